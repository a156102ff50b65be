// How the npm build loads the upload code: a chunk of its own. The script-tag build swaps this
// module for upload-script.ts (see vite.config.ts).

/** The upload code (upload.ts), loaded once. */
export const loadUpload = (): Promise<typeof import('./upload.js')> => import('./upload.js');
