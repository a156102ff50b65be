import { PROTOCOL_VERSION, type ClientFrame, type PageContext } from '@parley/protocol';
import type { IdentifyOptions } from './types.js';

/** What a new socket says first: the site, and whatever this visitor brings back to it. */
export interface HelloParts {
  siteKey: string;
  token?: string;
  /** The last sequence number held, for the relay to replay what came after. */
  lastSeq: number;
  page?: PageContext;
  identity?: IdentifyOptions;
  /** Start a new conversation rather than resume the token's. */
  fresh: boolean;
}

/** The `hello` frame; fields with nothing to say are left out. */
export function buildHello(p: HelloParts): ClientFrame {
  const hello: ClientFrame = { t: 'hello', v: PROTOCOL_VERSION, siteKey: p.siteKey };
  if (p.token) hello.token = p.token;
  if (p.lastSeq) hello.lastSeq = p.lastSeq;
  if (p.page) hello.page = p.page;
  if (p.identity) hello.identity = p.identity;
  if (p.fresh) hello.fresh = true;
  return hello;
}
