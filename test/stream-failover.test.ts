// A streamed answer survives the loss of the relay its widget was on: two relay CLI processes on
// one Redis, a widget on relay 1, a backend streaming word by word over REST to relay 2; relay 1
// is killed with SIGKILL mid-answer, and the widget resumes on relay 2 with its token and lastSeq.
// What the widget assembled must be the final text, every word once, and the message shown once.
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import WebSocket from 'ws';
import { createClient, type ChatMessage, type SocketLike } from '@parley/client';
import type { ServerFrame } from '@parley/protocol';
import { cli, configFile, killChildren, listening, requireBuiltCli, start } from '../packages/relay/src/test-support/cli-process.js';
import { API_SECRET, ORIGIN, TestClient, eventually, testConfig } from '../packages/relay/src/test-support/harness.js';
import { REDIS_URL, deletePrefix, newPrefix, sharedRedisAvailable } from '../packages/relay/src/test-support/redis.js';
import { startRecordingServer } from './support/recording-server.js';

const available = await sharedRedisAvailable('the stream failover test');
const prefix = newPrefix();

afterEach(() => killChildren());
afterAll(async () => {
  if (available) await deletePrefix(REDIS_URL, prefix);
});

/** What a client shows of the answer `id`: the draft rule applied to `frames` in arrival order (the finished message not applied). */
function assemble(frames: readonly ServerFrame[], id: string, from = ''): string {
  let draft = from;
  for (const f of frames) if (f.t === 'draft' && f.id === id && f.offset <= draft.length) draft = draft.slice(0, f.offset) + f.text;
  return draft;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Two relay CLI processes on the shared Redis (this file's prefix), delivering to `backendBase`. */
async function twoRelays(backendBase: string): Promise<{ relays: ChildProcessWithoutNullStreams[]; base1: string; base2: string }> {
  const file = configFile({
    ...testConfig(`${backendBase}/webhooks/parley`),
    engine: { type: 'redis', url: REDIS_URL, prefix },
    host: '127.0.0.1',
    port: 0,
    logLevel: 'info',
  });
  const relays = [start(process.execPath, [cli, '--config', file]), start(process.execPath, [cli, '--config', file])];
  const [base1, base2] = (await Promise.all(relays.map(listening))) as [string, string];
  return { relays, base1, base2 };
}

type StepAnswer = { offset: number; done: boolean; message?: { seq: number; body: { text: string } } };

/** A backend streaming `words` as the answer `id` over REST to the relay at `base`, one delta every 8 ms; resolves once started, with the finish's answer to come. */
async function streamWords(base: string, conversationId: string, id: string, words: readonly string[]): Promise<{ finished: Promise<StepAnswer> }> {
  const step = async (body: unknown) => {
    const res = await fetch(`${base}/v1/conversations/${conversationId}/streams/${id}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = await res.json();
    if (res.status !== 200) throw new Error(`step ${JSON.stringify(body)} answered ${res.status}: ${JSON.stringify(json)}`);
    return json as StepAnswer;
  };
  await step({ op: 'start' });
  const finished = (async () => {
    let offset = 0;
    for (const word of words) {
      expect((await step({ op: 'delta', offset, text: word })).offset).toBe(offset + word.length);
      offset += word.length;
      await sleep(8);
    }
    return step({ op: 'finish' });
  })();
  return { finished };
}

describe.runIf(available)('streamed answer failover (redis, two relay processes)', () => {
  test('a widget whose relay is killed mid-answer resumes on the other relay: snapshot once, the rest, the final message once', { timeout: 30_000 }, async () => {
    requireBuiltCli();
    const backend = await startRecordingServer();
    try {
      const { relays, base1, base2 } = await twoRelays(backend.base);
      const ws = (base: string) => `${base.replace('http', 'ws')}/v1/widget`;

      // The visitor, on relay 1, asks something: the conversation is stored.
      const first = await TestClient.open(ws(base1));
      const welcome = await first.hello();
      first.send({ t: 'send', id: 'q1', body: { type: 'text', text: 'How do I return boots?' } });
      const ack = (await first.take((f) => f.t === 'ack' && f.id === 'q1')) as Extract<ServerFrame, { t: 'ack' }>;
      const conversationId = welcome.conversationId;

      // The backend streams its answer to relay 2, word by word.
      const words = Array.from({ length: 150 }, (_, i) => `word${i + 1} `);
      const { finished: streaming } = await streamWords(base2, conversationId, 'ans1', words);

      // Relay 1 carries the drafts across instances; it dies mid-answer.
      await eventually(() => assemble(first.frames, 'ans1').split(' ').length > 30, 10_000);
      process.kill(-relays[0]!.pid!, 'SIGKILL');
      await first.waitClosed();
      const before = assemble(first.frames, 'ans1');
      expect(before.length).toBeGreaterThan(0);

      // The widget reconnects to relay 2 with its token and last seq, keeping the draft it had.
      const second = await TestClient.open(ws(base2));
      await second.hello({ token: welcome.token, lastSeq: ack.seq });
      const finished = await streaming;
      expect(finished.done).toBe(true);
      const msg = await second.take((f) => f.t === 'msg' && f.id === 'ans1', 10_000);

      const finalText = words.join('');
      expect(finished.message!.body.text).toBe(finalText);
      expect(msg).toMatchObject({ seq: ack.seq + 1, from: { role: 'bot', ai: true }, body: { type: 'text', text: finalText } });
      // The answer was still being written when the widget came back: one snapshot from offset 0, after the welcome.
      const drafts = second.frames.filter((f): f is Extract<ServerFrame, { t: 'draft' }> => f.t === 'draft' && f.id === 'ans1');
      const snapshots = drafts.filter((d) => d.offset === 0);
      expect(snapshots).toHaveLength(1);
      expect(snapshots[0]!.text.length).toBeGreaterThanOrEqual(before.length);
      expect(second.frames.indexOf(snapshots[0]!)).toBeGreaterThan(second.frames.findIndex((f) => f.t === 'welcome'));
      // What the widget assembled over both sockets is the final text, each word once, in order.
      const assembled = assemble(second.frames, 'ans1', before);
      expect(assembled).toBe(finalText);
      expect(assembled.trim().split(' ')).toEqual(words.map((w) => w.trim()));
      // The finished message is shown once, and logged once.
      expect([...first.msgs(), ...second.msgs()].filter((m) => m.id === 'ans1')).toHaveLength(1);
      const history = await fetch(`${base2}/v1/conversations/${conversationId}/messages`, { headers: { authorization: `Bearer ${API_SECRET}` } }).then((r) => r.json());
      expect(history.entries.map((e: { id: string }) => e.id)).toEqual(['q1', 'ans1']);
      second.close();
    } finally {
      await backend.close();
    }
  });
  test('the client library behind a load balancer: its relay is killed mid-answer, it reconnects to the other and shows the whole answer once', { timeout: 30_000 }, async () => {
    requireBuiltCli();
    const backend = await startRecordingServer();
    try {
      const { relays, base1, base2 } = await twoRelays(backend.base);
      // A load balancer with no sticky sessions: relay 1 while it lives, then relay 2.
      let target = base1;
      const sockets: string[] = [];
      const client = createClient({
        siteKey: 'pk_test',
        relayUrl: base1,
        createSocket: (url) => {
          const to = url.replace(base1.replace('http', 'ws'), target.replace('http', 'ws'));
          sockets.push(to);
          return new WebSocket(to, { origin: ORIGIN }) as unknown as SocketLike;
        },
        storage: null,
        backoff: { minMs: 20, maxMs: 100 },
        page: () => ({ url: `${ORIGIN}/boots` }),
      });
      // Every text the visitor's screen held for the answer, in order.
      const seen: string[] = [];
      const answer = () => client.getSnapshot().timeline.find((i): i is ChatMessage => i.kind === 'msg' && i.id === 'ans2');
      client.on('change', () => {
        const a = answer();
        const text = a?.body.type === 'text' ? a.body.text : '';
        if (text && text !== seen.at(-1)) seen.push(text);
      });
      client.connect();
      client.send('How do I return boots?');
      await eventually(() => client.getSnapshot().timeline.some((i) => i.kind === 'msg' && i.seq !== undefined), 10_000);
      const conversationId = await (async () => {
        const res = await fetch(`${base2}/v1/conversations?limit=5`, { headers: { authorization: `Bearer ${API_SECRET}` } }).then((r) => r.json());
        return (res.items as { id: string; lastSeq: number }[]).find((c) => c.lastSeq > 0)!.id;
      })();

      const words = Array.from({ length: 150 }, (_, i) => `word${i + 1} `);
      const { finished: streaming } = await streamWords(base2, conversationId, 'ans2', words);

      await eventually(() => (seen.at(-1) ?? '').split(' ').length > 30, 10_000);
      target = base2;
      process.kill(-relays[0]!.pid!, 'SIGKILL');
      await streaming;
      const finalText = words.join('');
      await eventually(() => answer()?.seq !== undefined, 10_000);

      // On screen: the finished answer, once, in place of the draft; every text shown on the way was
      // a beginning of it (no word repeated or lost across the failover).
      const shown = client.getSnapshot().timeline.filter((i) => i.kind === 'msg' && i.id === 'ans2');
      expect(shown).toHaveLength(1);
      expect(answer()).toMatchObject({ from: { role: 'bot', ai: true }, body: { type: 'text', text: finalText } });
      expect(answer()!.draft).toBeUndefined();
      for (const text of seen) expect(finalText.startsWith(text)).toBe(true);
      expect(sockets.filter((u) => u.startsWith(base2.replace('http', 'ws')))).not.toHaveLength(0);
      client.disconnect();
    } finally {
      await backend.close();
    }
  });
});
