// Starts the built CLI the ways operators do. `npm test` builds before testing.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { CLOSE } from '@parley/protocol';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'packages/relay/dist/cli.js');
const example = join(root, 'examples/relay.config.json');
const children: ChildProcessWithoutNullStreams[] = [];

beforeAll(() => {
  if (!existsSync(cli)) throw new Error('packages/relay/dist/cli.js is missing: run `npx tsc -b` (npm test does) first.');
});

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function start(cmd: string, args: string[], env: Record<string, string>): ChildProcessWithoutNullStreams {
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env } });
  children.push(child);
  return child;
}

/** Resolves with the relay's base URL once it logs that it listens. */
function listening(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`relay exited with ${code}: ${out}`)));
  });
}

function exited(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; output: string }> {
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}

describe('parley-relay CLI', () => {
  test('`npx parley-relay --config examples/relay.config.json` starts and GET /healthz answers 200', async () => {
    const child = start('npx', ['parley-relay', '--config', example], { PORT: '0', HOST: '127.0.0.1' });
    const base = await listening(child);
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  test('starts as the container does (node dist/cli.js, PARLEY_CONFIG) and SIGTERM closes sockets with GOING_AWAY', async () => {
    const child = start('node', [cli], { PARLEY_CONFIG: example, PORT: '0', HOST: '127.0.0.1' });
    const base = await listening(child);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/widget`, { origin: 'http://localhost:5173' });
    const frames: string[] = [];
    ws.on('message', (d) => frames.push(d.toString()));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ t: 'hello', v: 1, siteKey: 'pk_demo' }));
    await new Promise((r) => ws.once('message', r));
    expect(JSON.parse(frames[0]!)).toMatchObject({ t: 'welcome', site: { name: 'Parley Demo Shop' } });
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    const done = exited(child);
    child.kill('SIGTERM');
    expect(await closed).toBe(CLOSE.GOING_AWAY);
    expect((await done).code).toBe(0);
  });

  test('a bad config exits non-zero and names the bad key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-'));
    const file = join(dir, 'relay.json');
    writeFileSync(
      file,
      JSON.stringify({
        tokenSecret: 'x'.repeat(40),
        sites: [{ siteKey: 'pk', name: 'S', allowedOrigins: ['*'], webhookUrl: 'not a url', webhookSecret: 'whsec_' + 'A'.repeat(24), apiSecret: 'a'.repeat(20) }],
      }),
    );
    const { code, output } = await exited(start('node', [cli, '--config', file], {}));
    expect(code).not.toBe(0);
    expect(output).toContain('sites.0.webhookUrl');
  });
});
