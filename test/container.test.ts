// The relay image as built, without a Docker engine: packages/relay/Dockerfile's deps stage runs
// here (`npm ci --omit=dev` from the lockfile into a scratch directory), its runtime stage is laid
// out from its own COPY lines, and the relay starts with the image's ENV, CMD and USER, passes its
// HEALTHCHECK, and drains on SIGTERM. Everything is read from the Dockerfile, so the two cannot
// drift. `npm test` builds first; the build stage's output is this checkout's build output.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { CLOSE } from '@parley/protocol';
import { parseConfig } from '@parley/relay';
import { listening } from '../packages/relay/src/test-support/cli-process.js';
import { TestClient, messageOf, startBackend, testConfig, type BackendAnswer } from '../packages/relay/src/test-support/harness.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const DOCKERFILE = join(root, 'packages/relay/Dockerfile');
/** The official node images' `node` user, for machines that have no user of that name. */
const IMAGE_USERS: Record<string, { uid: number; gid: number }> = { node: { uid: 1000, gid: 1000 } };

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  instructions: Instruction[];
}

/** The Dockerfile's stages and their instructions, continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Stage[] {
  const lines = text
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const stages: Stage[] = [];
  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op === 'FROM') stages.push({ name: /\bAS\s+(\S+)/i.exec(args)?.[1] ?? 'runtime', instructions: [] });
    else stages[stages.length - 1]!.instructions.push({ op: op!, args });
  }
  return stages;
}

const all = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).map((i) => i.args);
const one = (stage: Stage, op: string) => {
  const found = all(stage, op);
  expect(found, `${stage.name} stage: one ${op}`).toHaveLength(1);
  return found[0]!;
};
/** `COPY [--from=stage] src... dest`. */
const copies = (stage: Stage) =>
  all(stage, 'COPY').map((args) => {
    const parts = args.split(/\s+/);
    const from = parts[0]!.startsWith('--from=') ? parts.shift()!.slice('--from='.length) : null;
    return { from, sources: parts.slice(0, -1), dest: parts[parts.length - 1]! };
  });

/** Copy `source` to `dest` as COPY does: a directory's contents into `dest`; a file into `dest` when it ends with `/`, else onto it. */
function copy(source: string, dest: string): void {
  if (statSync(source).isDirectory()) {
    mkdirSync(dest, { recursive: true });
    cpSync(source, dest, { recursive: true, verbatimSymlinks: true });
    return;
  }
  mkdirSync(dest.endsWith('/') ? dest : join(dest, '..'), { recursive: true });
  cpSync(source, dest.endsWith('/') ? join(dest, basename(source)) : dest);
}

function run(cmd: string, cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync('sh', ['-c', cmd], { cwd, env, encoding: 'utf8', timeout: 150_000 });
  const output = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`\`${cmd}\` exited with ${r.status}:\n${output.slice(-3000)}`);
  return output;
}

const stages = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
const stage = (name: string) => {
  const s = stages.find((x) => x.name === name);
  if (!s) throw new Error(`packages/relay/Dockerfile has no ${name} stage`);
  return s;
};
const image = stages[stages.length - 1]!;

const scratch = mkdtempSync(join(tmpdir(), 'parley-image-'));
/** Where the image's absolute paths live here. */
const dirs = { deps: join(scratch, 'deps-app'), app: join(scratch, 'app'), data: join(scratch, 'data'), config: join(scratch, 'config') };
/** The runtime stage's absolute paths (WORKDIR /app, /data, /config) mapped into `scratch`. */
const mapped = (path: string) => path.replace(/^\/(app|data|config)(?=\/|$)/, (_, d: 'app' | 'data' | 'config') => dirs[d]);

let user: { name: string; uid: number; gid: number } | null = null;
const children: ChildProcessWithoutNullStreams[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

/** Start `argv` in the runtime directory as the image's user (when this test runs as root) with only `env`. */
function startAsImage(argv: string[], env: Record<string, string>): ChildProcessWithoutNullStreams {
  const [cmd, ...args] = argv;
  // The image's Node is node:22; this runs the machine's.
  const node = cmd === 'node' ? process.execPath : cmd!;
  const full = user ? ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', node, ...args] : [node, ...args];
  const child = spawn(full[0]!, full.slice(1), { cwd: mapped(one(image, 'WORKDIR')), env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
  children.push(child);
  return child;
}

const exitOf = (child: ChildProcessWithoutNullStreams) =>
  new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

beforeAll(() => {
  if (!existsSync(join(root, 'packages/relay/dist/cli.js'))) throw new Error('packages/relay/dist/cli.js is missing: run `npm run build` (npm test does) first.');
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the relay image (packages/relay/Dockerfile)', () => {
  test('is multi-stage: the runtime stage copies only build output and production dependencies, runs as a non-root user, keeps data on /data', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'deps', 'runtime']);
    expect(all(stage('deps'), 'RUN').some((r) => /^npm ci --omit=dev --workspace @parley\/relay\b/.test(r))).toBe(true);
    // Nothing from the build context, and no node_modules from the build stage (it holds dev dependencies).
    for (const c of copies(image)) {
      expect(c.from, `COPY ${c.sources.join(' ')}`).not.toBeNull();
      if (c.from === 'build') for (const s of c.sources) expect(s).not.toMatch(/node_modules/);
    }
    expect(one(image, 'USER')).not.toMatch(/^(root|0)$/);
    expect(all(image, 'VOLUME')).toEqual(['/data']);
    expect(one(image, 'ENV')).toMatch(/\bPARLEY_DATA=\/data\//);
    expect(one(image, 'HEALTHCHECK')).toMatch(/\/healthz/);
    // The served widget files are built in the build stage by their own workspaces.
    const build = all(stage('build'), 'RUN').join(' ');
    const served = copies(image).flatMap((c) => c.sources).filter((s) => s.endsWith('.js'));
    expect(served.map((s) => basename(s)).sort()).toEqual(['loader.js', 'parley-connection.js', 'parley-extras.js', 'parley-triggers.js', 'parley-upload.js', 'parley.iife.js']);
    for (const s of served) expect(build, s).toMatch(new RegExp(`--workspace @parley/${/packages\/([\w-]+)\/dist\//.exec(s)![1]}\\b`));
  });

  test('installed with its `npm ci --omit=dev`, started with its USER, ENV and CMD: passes its HEALTHCHECK, keeps SQLite on /data, and drains on SIGTERM', { timeout: 180_000 }, async () => {
    const started = Date.now();
    // Deps stage: its COPY lines from the build context (this checkout), then its RUN commands.
    const deps = stage('deps');
    expect(one(deps, 'WORKDIR')).toBe('/app');
    for (const c of copies(deps)) {
      expect(c.from).toBeNull();
      for (const s of c.sources) copy(join(root, s), c.dest.startsWith('/') ? c.dest.replace(/^\/app/, dirs.deps) : join(dirs.deps, c.dest));
    }
    for (const step of all(deps, 'RUN').flatMap((r) => r.split('&&').map((s) => s.trim()))) {
      if (/^(apt-get|rm -rf \/var\/lib\/apt)/.test(step)) continue; // the toolchain for an addon build
      if (step === 'npm rebuild better-sqlite3') {
        // The addon this checkout's `npm install` fetched or built, for this Node and platform, from
        // the same locked version; building it again from source would take minutes.
        const built = join(root, 'node_modules/better-sqlite3');
        const version = (dir: string) => (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
        expect(version(join(dirs.deps, 'node_modules/better-sqlite3'))).toBe(version(built));
        cpSync(join(built, 'build/Release/better_sqlite3.node'), join(dirs.deps, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'));
        continue;
      }
      const output = run(step, dirs.deps);
      // The image's dependency tree fits the Node range the packages declare.
      if (step.startsWith('npm ci')) expect(output).not.toMatch(/EBADENGINE/);
    }
    const installMs = Date.now() - started;

    // Runtime stage: its COPY lines, from the build stage (this checkout, built) and the deps stage.
    expect(one(stage('build'), 'WORKDIR')).toBe('/src');
    expect(all(stage('build'), 'COPY')).toEqual(['. .']);
    expect(one(image, 'WORKDIR')).toBe('/app');
    mkdirSync(dirs.app);
    for (const c of copies(image)) {
      for (const s of c.sources) {
        const source = c.from === 'build' ? s.replace(/^\/src\//, root) : c.from === 'deps' ? s.replace(/^\/app(?=\/|$)/, dirs.deps) : null;
        expect(source, `COPY --from=${c.from} ${s}`).not.toBeNull();
        expect(existsSync(source!), `${s} is missing from the ${c.from} stage's output (npm test builds first)`).toBe(true);
        copy(source!, c.dest.startsWith('/') ? mapped(c.dest) : join(dirs.app, c.dest));
      }
    }
    // Only production dependencies reached the image.
    for (const dev of ['typescript', 'vitest', 'vite', '@types/better-sqlite3', '@parley/client', '@parley/widget']) expect(existsSync(join(dirs.app, 'node_modules', dev)), dev).toBe(false);

    // The image's user: the same name here if it exists, else the node image's uid.
    const userName = one(image, 'USER');
    if (process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0) {
      const local = spawnSync('id', ['-u', userName], { encoding: 'utf8' });
      const ids = local.status === 0 ? { uid: Number(local.stdout), gid: Number(spawnSync('id', ['-g', userName], { encoding: 'utf8' }).stdout) } : IMAGE_USERS[userName];
      expect(ids, `no uid known for USER ${userName}`).toBeDefined();
      user = { name: userName, ...ids! };
    } else {
      console.log(`container.test: not root (or no setpriv): the relay runs as the current user, not the image's USER ${userName}`);
    }
    // The runtime stage's RUN lines: directories and their owner.
    for (const step of all(image, 'RUN').flatMap((r) => r.split('&&').map((s) => s.trim()))) {
      const mk = /^mkdir -p (\/\S+)$/.exec(step);
      const own = /^chown (\w+):(\w+) (\/\S+)$/.exec(step);
      if (mk) mkdirSync(mapped(mk[1]!), { recursive: true });
      else if (own) {
        expect(own[1]).toBe(userName);
        if (user) chownSync(mapped(own[3]!), user.uid, user.gid);
      } else throw new Error(`test/container.test.ts cannot reproduce the runtime stage's \`RUN ${step}\`: teach it`);
    }
    // mkdtemp makes private directories; an image's are world-readable.
    for (const d of [scratch, dirs.app]) chmodSync(d, 0o755);

    // The config, mounted read-only where PARLEY_CONFIG says; webhooks to a backend that takes 1 s for m1.
    const DRAIN_MS = 3_000;
    let slowFirst = true;
    const backend = await startBackend((rec): BackendAnswer => (messageOf(rec.json)?.id === 'm1' && slowFirst ? { status: 204, delayMs: 1_000 } : { status: 204 }));
    cleanups.push(backend.close);
    const env: Record<string, string> = {};
    for (const m of one(image, 'ENV').matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = mapped(m[2]!);
    expect(Object.keys(env).sort()).toEqual(['HOST', 'NODE_ENV', 'PARLEY_ASSETS', 'PARLEY_CONFIG', 'PARLEY_DATA', 'PORT']);
    mkdirSync(join(env.PARLEY_CONFIG!, '..'), { recursive: true });
    chmodSync(dirs.config, 0o755);
    writeFileSync(env.PARLEY_CONFIG!, JSON.stringify({ ...testConfig(backend.url), engine: { type: 'sqlite' }, logLevel: 'info', webhooks: { drainMs: DRAIN_MS } }), { mode: 0o444 });
    // A free port on loopback instead of the image's 0.0.0.0:8787.
    const runEnv = { ...env, HOST: '127.0.0.1', PORT: '0' };

    const cmd = JSON.parse(one(image, 'CMD')) as string[];
    const relay = startAsImage(cmd, runEnv);
    const base = await listening(relay);
    const port = new URL(base).port;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const healthcheck = JSON.parse(one(image, 'HEALTHCHECK').slice(one(image, 'HEALTHCHECK').indexOf(' CMD ') + 5)) as string[];
    const health = startAsImage(healthcheck, { PORT: port });
    expect(await exitOf(health)).toBe(0);
    // The widget files it serves are the ones the image copied to PARLEY_ASSETS.
    const loader = await fetch(`${base}/parley/loader.js`);
    expect(loader.status).toBe(200);
    expect(Buffer.from(await loader.arrayBuffer()).equals(readFileSync(join(env.PARLEY_ASSETS!, 'loader.js')))).toBe(true);
    // The SQLite file is on /data, written by the image's user.
    expect(existsSync(env.PARLEY_DATA!)).toBe(true);
    if (user) expect(statSync(env.PARLEY_DATA!).uid).toBe(user.uid);

    // m1's delivery is in flight (the backend takes 1 s) when SIGTERM arrives; m2 waits behind it.
    const wsUrl = `${base.replace('http', 'ws')}/v1/widget`;
    const visitor = await TestClient.open(wsUrl);
    cleanups.push(() => visitor.ws.terminate());
    await visitor.hello();
    visitor.send({ t: 'send', id: 'm1', body: { type: 'text', text: 'one' } });
    visitor.send({ t: 'send', id: 'm2', body: { type: 'text', text: 'two' } });
    await visitor.take((f) => f.t === 'ack' && f.id === 'm2');
    await backend.waitFor((r) => r.some((x) => messageOf(x.json)?.id === 'm1'));
    slowFirst = false;
    const stopping = Date.now();
    const exited = exitOf(relay);
    relay.kill('SIGTERM');
    expect((await visitor.whenClosed).code).toBe(CLOSE.GOING_AWAY);
    expect(await exited).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(DRAIN_MS + 1_000);
    expect((await exitOf(startAsImage(healthcheck, { PORT: port }))) ?? 1).not.toBe(0);

    // Started again on the same /data: m2 goes out; m1, which finished during the drain, does not go again.
    const again = startAsImage(cmd, runEnv);
    await listening(again);
    await backend.waitFor((r) => r.some((x) => messageOf(x.json)?.id === 'm2'));
    await new Promise((r) => setTimeout(r, 300));
    expect(backend.received.map((r) => `${r.json.type}:${messageOf(r.json)?.id ?? ''}`)).toEqual(['conversation.started:', 'message.created:m1', 'message.created:m2']);
    again.kill('SIGTERM');
    expect(await exitOf(again)).toBe(0);
    console.log(`container.test: npm ci --omit=dev ${installMs} ms, whole run ${Date.now() - started} ms, as ${user ? `uid ${user.uid} (USER ${user.name})` : 'the current user'}`);
  });
});

describe('docker-compose.yml', () => {
  const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
  /** Each service's block of lines, by name. */
  const services = Object.fromEntries(
    [...compose.split(/^volumes:$/m)[0]!.matchAll(/^ {2}([\w-]+):\n((?: {4}.*\n|\s*\n| {2}#.*\n)*)/gm)].map((m) => [m[1]!, m[2]!]),
  );

  test('runs two relays of this image on Redis with AOF behind nginx, with the demo backend and the demo shop; the relay config is valid', async () => {
    expect(Object.keys(services).sort()).toEqual(['demo-backend', 'demo-shop', 'lb', 'redis', 'relay-1', 'relay-2']);
    expect(compose).toMatch(/&relay-image\n\s+context: \.\n\s+dockerfile: packages\/relay\/Dockerfile\n/);
    const relays = Object.entries(services).filter(([, body]) => /image: parley-relay\n/.test(body));
    expect(relays.map(([name]) => name)).toEqual(['relay-1', 'relay-2']);
    expect(services.redis).toMatch(/command: \[.*"--appendonly", "yes"/);
    expect(services.lb).toMatch(/image: nginx/);
    // Each relay mounts its config where the image's PARLEY_CONFIG looks, and gets longer to stop than the drain.
    const configPath = /PARLEY_CONFIG=(\S+)/.exec(one(image, 'ENV'))![1]!;
    const config = parseConfig(JSON.parse(readFileSync(join(root, 'examples/compose/relay.json'), 'utf8')));
    for (const [name, body] of relays) {
      expect(body, name).toContain(`./examples/compose/relay.json:${configPath}:ro`);
      expect(Number(/stop_grace_period: (\d+)s/.exec(body)?.[1]) * 1000, name).toBeGreaterThan(config.webhooks.drainMs);
    }
    expect(config.engine).toMatchObject({ type: 'redis', url: 'redis://redis:6379' });
    // Webhooks go to the demo backend service, on the port it listens on.
    const webhook = new URL(config.sites[0]!.webhookUrl!);
    expect(webhook.hostname).toBe('demo-backend');
    expect(services['demo-backend']).toContain(`PORT: "${webhook.port}"`);
    expect(services['demo-shop']).toContain('command: ["node", "examples/compose/shop.mjs"]');
    // The shop's pages are allowed to open widget sockets.
    const shopPort = /PORT: "(\d+)"/.exec(services['demo-shop']!)![1]!;
    expect(config.sites[0]!.allowedOrigins).toContain(`http://localhost:${shopPort}`);

    // The demo shop's entry point serves the shop with the Parley snippet.
    const shop = spawn(process.execPath, [join(root, 'examples/compose/shop.mjs')], { env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', RELAY_URL: 'http://localhost:8080' } });
    children.push(shop as ChildProcessWithoutNullStreams);
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      shop.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /Demo shop: (http:\/\/\S+?)\/?$/m.exec(out);
        if (m) resolve(m[1]!);
      });
      shop.stderr.on('data', (c: Buffer) => (out += c.toString()));
      shop.on('exit', (code) => reject(new Error(`shop.mjs exited with ${code}: ${out}`)));
    });
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('/parley/loader.js');
    expect(page.headers.get('content-security-policy')).toContain('connect-src \'self\' http://localhost:8080 ws://localhost:8080');
    expect((await fetch(`${url}/parley/loader.js`)).status).toBe(200);
  });
});
