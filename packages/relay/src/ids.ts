// Ids of entries, events, jobs and leases: the protocol's one generator (a pooled random source).
export { newId } from '@parley/protocol';
