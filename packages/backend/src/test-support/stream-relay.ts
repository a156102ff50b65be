// A stand-in relay for streamed answers: the REST route `POST /v1/conversations/:id/streams/:messageId`
// (on the shared recording server) and the backend socket's `stream` frames (on a `ws` server), both
// on port 0, both applying the contract's step semantics (idempotent start, deltas idempotent on
// their offset, STREAM_GAP past the end, finish and abort logging one message) and recording
// every step. Faults are injected per step with `fault`.
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { LIMITS, StreamRequest, check, decodeBackendFrame, type Message, type StreamResponse } from '@parley/protocol';
import { startRecordingServer, type Answer } from '../../../../test/support/recording-server.js';

export const STREAM_SECRET = 'sk_stream_test_0123456789';

/** One step as it arrived, with the relay's state right after it. */
export interface RecordedStep {
  via: 'rest' | 'socket';
  conversationId: string;
  messageId: string;
  step: StreamRequest;
  /** The text the relay held once the step was applied. */
  held: string;
  /** The HTTP status (REST) or the frame sent back (socket: `ack`, `error`, or none for a delta). */
  status: number;
  /** Requests being answered when this one arrived (REST). */
  inFlight: number;
}

interface Answered {
  status: number;
  body: StreamResponse | { error: { code: string; message: string } };
}

/**
 * What to do with a step instead of (or besides) applying it: `respond` answers with this status
 * and error code without applying it; `applyThenFail` applies it and still answers the error (a lost
 * answer); `delayMs` holds the REST answer.
 */
export interface Fault {
  respond?: { status: number; code: string };
  applyThenFail?: { status: number; code: string };
  delayMs?: number;
}

interface Stream {
  from: NonNullable<Message['from']>;
  text: string;
  message?: Message;
}

export async function startStreamRelay(fault: (step: StreamRequest, index: number) => Fault | undefined = () => undefined) {
  const streams = new Map<string, Stream>();
  const seqs = new Map<string, number>();
  const steps: RecordedStep[] = [];
  let inFlight = 0;

  const error = (status: number, code: string, message: string): Answered => ({ status, body: { error: { code, message } } });

  function apply(conversationId: string, id: string, step: StreamRequest): Answered {
    const key = `${conversationId}/${id}`;
    const s = streams.get(key);
    const state = (x: Stream, duplicate: boolean): Answered => ({
      status: 200,
      body: { id, offset: x.text.length, done: x.message !== undefined, duplicate, ...(x.message ? { message: x.message } : {}) },
    });
    const log = (x: Stream, message: Omit<Message, 'seq' | 'id' | 'ts' | 'from'>): Answered => {
      const seq = (seqs.get(conversationId) ?? 0) + 1;
      seqs.set(conversationId, seq);
      x.message = { seq, id, ts: Date.now(), from: x.from, ...message };
      return state(x, false);
    };
    switch (step.op) {
      case 'start': {
        if (s) return state(s, true);
        const fresh: Stream = { from: step.from ?? { role: 'bot', ai: true }, text: '' };
        streams.set(key, fresh);
        return state(fresh, false);
      }
      case 'delta': {
        if (!s) return error(404, 'STREAM_NOT_FOUND', 'No streamed answer with this id.');
        if (s.message) return error(409, 'STREAM_ENDED', 'The streamed answer is already finished or aborted.');
        if (step.offset > s.text.length) return error(409, 'STREAM_GAP', `The relay holds ${s.text.length} characters; resend from there.`);
        const beyond = step.text.slice(s.text.length - step.offset);
        if (s.text.length + beyond.length > LIMITS.maxTextLength) return error(400, 'BAD_REQUEST', 'The answer is over the text limit.');
        s.text += beyond;
        return state(s, beyond === '');
      }
      case 'finish': {
        if (!s) return error(404, 'STREAM_NOT_FOUND', 'No streamed answer with this id.');
        if (s.message) return state(s, true);
        const text = step.text ?? s.text;
        const sources = step.sources ? { sources: step.sources } : {};
        return log(s, { body: step.quickReplies ? { type: 'quick_replies', text, replies: step.quickReplies, ...sources } : { type: 'text', text, ...sources } });
      }
      case 'abort': {
        if (!s) return error(404, 'STREAM_NOT_FOUND', 'No streamed answer with this id.');
        if (s.message) return state(s, true);
        return log(s, { body: { type: 'text', text: s.text || '…' }, incomplete: true });
      }
    }
  }

  /** Apply a step under its fault and record it. */
  function take(via: RecordedStep['via'], conversationId: string, messageId: string, step: StreamRequest): Answered & { delayMs?: number } {
    const f = fault(step, steps.length) ?? {};
    let answered: Answered;
    if (f.respond) answered = error(f.respond.status, f.respond.code, 'Injected fault.');
    else {
      answered = apply(conversationId, messageId, step);
      if (f.applyThenFail) answered = error(f.applyThenFail.status, f.applyThenFail.code, 'Injected fault after the step was applied.');
    }
    const held = streams.get(`${conversationId}/${messageId}`)?.text ?? '';
    steps.push({ via, conversationId, messageId, step, held, status: answered.status, inFlight });
    return { ...answered, ...(f.delayMs ? { delayMs: f.delayMs } : {}) };
  }

  interface RestCall {
    method: string;
    path: string;
    authorized: boolean;
    step?: StreamRequest;
  }
  const restServer = await startRecordingServer<RestCall>({
    // Every step must be on the protocol; anything else fails the run.
    record: ({ method, path, headers, raw }) => {
      const call: RestCall = { method, path, authorized: headers.authorization === `Bearer ${STREAM_SECRET}` };
      if (!call.authorized || !raw) return call;
      const parsed = check(StreamRequest, JSON.parse(raw));
      if (!parsed.ok) throw new Error(`the SDK sent a step off the protocol: ${parsed.message}: ${raw}`);
      return { ...call, step: parsed.value };
    },
    answer: ({ method, path, authorized, step }): Answer => {
      if (!authorized) return { status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'Wrong secret.' } } };
      const m = /^\/v1\/conversations\/([^/]+)\/streams\/([^/]+)$/.exec(path);
      if (method !== 'POST' || !m || !step) return { status: 404, body: { error: { code: 'NOT_FOUND', message: 'No such route.' } } };
      const answered = take('rest', decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), step);
      const delayMs = answered.delayMs ?? 0;
      if (delayMs) {
        // Counted as answered just before the answer leaves (this timer fires before the answer's).
        inFlight++;
        setTimeout(() => inFlight--, delayMs);
      }
      return { status: answered.status, body: answered.body, delayMs };
    },
  });

  // ---- the backend socket ----
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/v1/backend' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const sockets = new Set<WebSocket>();
  let accepted = 0;
  wss.on('connection', (ws, req) => {
    if (req.headers.authorization !== `Bearer ${STREAM_SECRET}`) return ws.close(4401, 'UNAUTHORIZED');
    accepted++;
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.send(JSON.stringify({ t: 'ready', v: 1, siteKey: 'pk_stream', mode: 'only' }));
    ws.on('message', (data) => {
      const decoded = decodeBackendFrame(data.toString());
      if (!decoded.ok) throw new Error(`the SDK sent a frame off the protocol: ${decoded.message}: ${data.toString()}`);
      const frame = decoded.frame;
      if (frame.t !== 'stream') return;
      const { t: _t, id, conversationId, ...step } = frame;
      const answered = take('socket', conversationId, id, step);
      if ('error' in answered.body) ws.send(JSON.stringify({ t: 'error', id, ...answered.body.error }));
      else if (step.op !== 'delta') {
        const seq = answered.body.message?.seq;
        ws.send(JSON.stringify({ t: 'ack', id, duplicate: answered.body.duplicate, ...(seq === undefined ? {} : { seq }) }));
      }
    });
  });

  return {
    base: restServer.base,
    socketUrl: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/v1/backend`,
    steps,
    /** The logged message of an answer, once finished or aborted. */
    message: (conversationId: string, id: string) => streams.get(`${conversationId}/${id}`)?.message,
    /** The text held for an answer. */
    held: (conversationId: string, id: string) => streams.get(`${conversationId}/${id}`)?.text,
    /** Forget the end of an answer's text, as a relay that lost its latest deltas. */
    truncate(conversationId: string, id: string, length: number) {
      const s = streams.get(`${conversationId}/${id}`);
      if (s) s.text = s.text.slice(0, length);
    },
    /** Sockets accepted so far. */
    accepted: () => accepted,
    /** Cut every backend socket (the SDK reconnects). */
    dropSockets: () => {
      for (const ws of sockets) ws.terminate();
    },
    /** Resolves once `pred` holds for the recorded steps. */
    async waitFor(pred: (steps: RecordedStep[]) => boolean, timeoutMs = 5000): Promise<RecordedStep[]> {
      const deadline = Date.now() + timeoutMs;
      while (!pred(steps)) {
        if (Date.now() > deadline) throw new Error(`stand-in relay: timed out; steps: ${JSON.stringify(steps.map((s) => s.step))}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return steps;
    },
    async close() {
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await restServer.close();
    },
  };
}

export type StreamRelay = Awaited<ReturnType<typeof startStreamRelay>>;
