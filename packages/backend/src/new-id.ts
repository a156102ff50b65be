// The protocol's id generator, for backends: `newId('msg_')` as the idempotency key of a message
// or event; store it with the work it names, so a retried call reuses the same id.
export { newId } from '@parley/protocol';
