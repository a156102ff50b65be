// Past conversations: the limits shared by the schemas, the browser guard, the relay and the
// client. This module imports nothing: the browser bundle may load it without zod.

/** Most conversations one `conversations` frame lists: the owner's newest. */
export const MAX_PAST = 20;

/** Most log entries one `history` answer carries; `hasMore` asks for the next page. */
export const PAST_PAGE = 50;

/** Most characters of a listed conversation's preview (the start of its last message). */
export const PREVIEW_LENGTH = 100;
