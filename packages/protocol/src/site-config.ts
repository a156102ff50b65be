import { z } from 'zod/mini';
import { Greeting } from './frames.js';
import { LIMITS } from './limits.js';
import { str } from './schemas.js';

/**
 * A site's public config: what a widget shows before it connects (and what `welcome` repeats
 * once it has). The relay serves it at `siteConfigPath(siteKey)` (site-config-guard.ts) as cacheable JSON, so a new
 * visitor sees the greeting and its quick replies at once without opening a socket.
 */
export const PublicSiteConfig = z.object({
  v: z.number().check(z.int()),
  site: z.object({ name: str(LIMITS.maxShortLength) }),
  /** Shown at once on open, with no backend round trip. */
  greeting: Greeting,
  /** Whether human agents are available now (revalidated on every page view, see docs/protocol.md). */
  online: z.boolean(),
});
export type PublicSiteConfig = z.infer<typeof PublicSiteConfig>;
