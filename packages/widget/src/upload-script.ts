// How the script-tag bundle loads the upload code: dist/parley-upload.js, from beside the bundle
// itself (a page's `script-src` that allows the bundle allows it). vite.config.ts puts this module
// in place of upload-import.ts in that build.
import { loadBeside } from './script-beside.js';

/** The upload code (upload.ts), built as the `ParleyUpload` global of dist/parley-upload.js. */
export const loadUpload = (): Promise<typeof import('./upload.js')> => loadBeside('Upload');
