import { contrastWithWhite } from './contrast.js';
import type { MountOptions } from './options.js';

/** Development-only warnings about options; the call sits behind `import.meta.env.DEV`. */
export function checkOptions(options: MountOptions): void {
  if (!options.client && (!options.siteKey || !options.relayUrl)) {
    console.warn('Parley: mount() needs siteKey and relayUrl (or a client).');
  }
  const primary = options.theme?.primary;
  if (primary && contrastWithWhite(primary) < 4.5) {
    console.warn(`Parley: theme.primary ${primary} gives less than 4.5:1 contrast with white text (WCAG AA).`);
  }
  const position = options.theme?.position;
  if (position && position !== 'left' && position !== 'right') {
    console.warn(`Parley: theme.position must be 'left' or 'right', not ${String(position)}.`);
  }
}
