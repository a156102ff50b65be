// The extras: UI of the rarer states, kept out of the script-tag bundle and loaded when one of
// those states shows or becomes likely (lazy.ts). The script-tag build makes it
// dist/parley-extras.js, loaded from beside the bundle, whose Preact and timeline it uses
// (see `extrasCore` in vite.config.ts); npm builds load it as a chunk of their own.
export { flash, tone, unflash } from './alert.js';
export { RareBody } from './extras-body.js';
export { CSS } from './extras-styles.js';
export { Comment } from './feedback-comment.js';
export { OfflineForm } from './offline-form.js';
export { Past } from './past.js';
export { Rating } from './rating.js';
