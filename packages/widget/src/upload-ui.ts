import { loadUpload } from './upload-import.js';
import type { View } from './view.js';

let code: ReturnType<typeof loadUpload> | undefined;

/**
 * Hand the attach button (when it appears) or its file input (when files are picked) to the
 * upload code (upload.ts), loaded then: a visitor who never opens the chat of a site that takes
 * files never pays for it. It attaches what was picked, and takes files pasted into the panel or
 * dropped on it; `ui.note` and `ui.p` show how it goes.
 */
export function upload(v: View, el: HTMLElement | null): void {
  if (el)
    (code ||= loadUpload()).then(
      (m) => m.upload(v, el),
      () => {
        code = undefined; // tried again next time
        if ((el as HTMLInputElement).files) v.set({ note: v.t.upFail });
      },
    );
}
