// What every server of the side-by-side bench is sent and answers, so all do the same work.

/** What every visitor message says. */
export const MESSAGE_BODY = { type: 'text', text: 'Where is my order? It was #1001, shipped on Monday.' };
/** What the bot answers. */
export const REPLY_BODY = { type: 'text', text: 'Order #1001 left our warehouse on Monday; it should reach you by Thursday.' };
/** The id of the bot's reply to a visitor message: derived from it, so a retried delivery is a duplicate. */
export const replyId = (messageId) => `r-${messageId}`;

let seq = 0;
/** A fresh message id. */
export const nextMessageId = () => `b${(++seq).toString(36)}`;
/** The widget's `send` frame for message `id`. */
export const sendFrame = (id) => JSON.stringify({ t: 'send', id, body: MESSAGE_BODY });

export const ORIGIN = 'https://shop.example';
