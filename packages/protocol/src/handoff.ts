// Kept out of messages.ts so a browser bundle can use it without loading zod.

/**
 * The postback value of the "Talk to a human" button. The relay turns a postback with
 * this value into a `handoff.requested` webhook.
 */
export const HANDOFF_VALUE = 'parley:human';
