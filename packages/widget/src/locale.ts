import type { LangInfo } from '@parley/client';
import { EN_STRINGS, type WidgetStrings } from '@parley/protocol';

/**
 * The widget's strings: the English it bundles, with the relay's strings for the visitor's
 * locale over it (from the site config; see `Snapshot.lang`). A key the relay does not know
 * yet stays English.
 */
export function pickStrings(lang: LangInfo | null): WidgetStrings {
  return lang?.strings ? { ...EN_STRINGS, ...lang.strings } : EN_STRINGS;
}
