// The public packages as npm users get them: `npm pack` each one, install the tarballs together
// into a scratch project outside this repository (no workspace links), and use them there:
// strict `tsc` over the widget's and the client's types, `verifyWebhook` on a signed sample, and
// `npx parley-relay --config …` answering /healthz. `npm test` builds first.
import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../', import.meta.url));
const PUBLIC = ['protocol', 'client', 'widget', 'loader', 'relay', 'backend'] as const;
const LICENSE_LINE = 'Copyright (c) 2026 The Parley authors';

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  engines?: { node?: string };
  exports?: unknown;
  bin?: Record<string, string>;
  files?: string[];
  dependencies?: Record<string, string>;
}
interface Packed {
  name: string;
  filename: string;
  files: Array<{ path: string }>;
}

const readJson = <T>(file: string) => JSON.parse(readFileSync(file, 'utf8')) as T;
const manifest = (name: string) => readJson<Manifest>(join(root, 'packages', name, 'package.json'));

/** The environment without npm's per-run variables, so nothing points back at this repository. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD' && k !== 'NODE_OPTIONS') env[k] = v;
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], cwd: string, timeout = 150_000): { code: number | null; output: string; stdout: string } {
  const r = spawnSync(cmd, args, { cwd, env: cleanEnv(), encoding: 'utf8', timeout });
  return { code: r.status, output: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

/** Every string an `exports` map points to. */
const targets = (exports: unknown): string[] =>
  typeof exports === 'string' ? [exports] : exports && typeof exports === 'object' ? Object.values(exports).flatMap(targets) : [];

/** The package names a built file imports (bare specifiers, no Node built-ins). */
function importsOf(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|\brequire\(\s*)['"]([^'"./][^'"]*)['"]/g)) {
    const spec = m[1]!;
    if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
    names.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
  }
  return names;
}

const scratch = mkdtempSync(join(tmpdir(), 'parley-packages-'));
const tarballs = join(scratch, 'tarballs');
const project = join(scratch, 'shop');
let packed: Packed[] = [];
let install = { code: null as number | null, output: '' };

beforeAll(() => {
  for (const name of PUBLIC) {
    if (!existsSync(join(root, 'packages', name, 'dist'))) throw new Error(`packages/${name}/dist is missing: run \`npm run build\` (npm test does) first.`);
  }
  mkdirSync(tarballs);
  const pack = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tarballs, ...PUBLIC.flatMap((p) => ['--workspace', `@parley/${p}`])], root);
  if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.output}`);
  packed = JSON.parse(pack.stdout) as Packed[];

  // A shop's own project, outside the repository: the tarballs installed together, as from the registry.
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'a-shop', version: '1.0.0', private: true, type: 'module' }));
  // Install scripts stay off: better-sqlite3's would download a prebuilt addon from GitHub (or
  // compile one), which this machine cannot; the addon this checkout installed, for the same
  // locked version, this Node and this platform, is put where that download would land.
  install = run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', ...packed.map((p) => join(tarballs, p.filename))], project, 170_000);
  if (install.code !== 0) throw new Error(`npm install of the tarballs failed:\n${install.output}`);
  const sqlite = 'node_modules/better-sqlite3';
  const version = (dir: string) => readJson<Manifest>(join(dir, 'package.json')).version;
  if (version(join(project, sqlite)) !== version(join(root, sqlite))) throw new Error(`better-sqlite3 ${version(join(project, sqlite))} installed, this checkout built ${version(join(root, sqlite))}: run npm install`);
  cpSync(join(root, sqlite, 'build/Release/better_sqlite3.node'), join(project, sqlite, 'build/Release/better_sqlite3.node'));
}, 240_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('published packages', () => {
  test('each tarball carries README, LICENSE, its exports, types and bin, and depends on everything its files import', () => {
    const rootEngines = readJson<Manifest>(join(root, 'package.json')).engines?.node;
    expect(packed.map((p) => p.name).sort()).toEqual(PUBLIC.map((p) => `@parley/${p}`).sort());
    for (const name of PUBLIC) {
      const pkg = manifest(name);
      const files = new Set(packed.find((p) => p.name === pkg.name)!.files.map((f) => f.path));
      expect(pkg.private, pkg.name).toBeUndefined();
      expect(pkg.license, pkg.name).toBe('MIT');
      expect(pkg.engines?.node, `${pkg.name}: engines.node as the repository's`).toBe(rootEngines);
      for (const f of ['README.md', 'LICENSE', 'package.json']) expect(files.has(f), `${pkg.name} ships ${f}`).toBe(true);
      expect(readFileSync(join(root, 'packages', name, 'LICENSE'), 'utf8')).toContain(LICENSE_LINE);
      const entry = (pkg.exports as Record<string, { types?: string }>)['.'];
      expect(entry?.types, `${pkg.name}: exports["."].types`).toBeDefined();
      for (const t of [...targets(pkg.exports), ...Object.values(pkg.bin ?? {})]) expect(files.has(t.replace(/^\.\//, '')), `${pkg.name} ships ${t}`).toBe(true);
      // Source maps would point at sources the tarball does not hold.
      expect([...files].filter((f) => f.endsWith('.map') || f.endsWith('.tsbuildinfo')), pkg.name).toEqual([]);
      const deps = new Set(Object.keys(pkg.dependencies ?? {}));
      for (const f of files) {
        if (!/\.(js|d\.ts)$/.test(f)) continue;
        for (const dep of importsOf(readFileSync(join(root, 'packages', name, f), 'utf8'))) expect(deps.has(dep), `${pkg.name}: ${f} imports ${dep}, missing from dependencies`).toBe(true);
      }
      // Internal dependencies name the exact version published with them.
      for (const [dep, range] of Object.entries(pkg.dependencies ?? {})) if (dep.startsWith('@parley/')) expect(range, `${pkg.name} → ${dep}`).toBe(manifest(dep.slice('@parley/'.length)).version);
    }
  });

  test('installed outside the repository, with no workspace links; the only Node-version warning is cookie@2 (see docs/self-hosting.md)', () => {
    for (const name of PUBLIC) {
      const dir = join(project, 'node_modules/@parley', name);
      expect(lstatSync(dir).isSymbolicLink(), dir).toBe(false);
      expect(realpathSync(dir).startsWith(realpathSync(root)), dir).toBe(false);
    }
    // Every @parley package came from these tarballs, none from the registry.
    const lock = readJson<{ packages: Record<string, { resolved?: string }> }>(join(project, 'package-lock.json'));
    const parley = Object.entries(lock.packages).filter(([path]) => path.includes('node_modules/@parley/'));
    expect(parley.map(([path]) => path).sort()).toEqual(PUBLIC.map((p) => `node_modules/@parley/${p}`).sort());
    for (const [path, entry] of parley) expect(entry.resolved, path).toMatch(/^file:\.\.\/tarballs\/parley-[\w-]+-\d+\.\d+\.\d+\.tgz$/);
    // cookie@2 declares Node >= 22; it comes through fastify → light-my-request, fastify's `inject`
    // helper, and runs on Node >= 20.19 (the next test loads it). Any other package that wants a
    // newer Node than engines.node says fails here when this runs on Node 20.
    const warned = [...install.output.matchAll(/EBADENGINE\s+package: '([^']+)'/g)].map((m) => m[1]!.replace(/@[^@]+$/, ''));
    expect(warned.filter((p) => p !== 'cookie'), install.output).toEqual([]);
  });

  test("the repository's lockfile holds no package that needs a newer Node than engines.node (cookie is pinned to 1.x for light-my-request)", () => {
    // fastify's semver, so the check reads ranges as npm does.
    const semver = createRequire(join(root, 'node_modules/fastify/package.json'))('semver') as { minVersion(range: string): { version: string }; satisfies(v: string, range: string): boolean };
    const floor = semver.minVersion(readJson<Manifest>(join(root, 'package.json')).engines!.node!).version;
    const lock = readJson<{ packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> }>(join(root, 'package-lock.json'));
    const tooNew = Object.entries(lock.packages)
      .filter(([, p]) => p.engines && !Array.isArray(p.engines) && p.engines.node && !semver.satisfies(floor, p.engines.node))
      .map(([path, p]) => `${path}@${p.version}: node ${(p.engines as { node: string }).node}`);
    expect(tooNew, `engines.node says ${floor} is enough`).toEqual([]);
  });

  test('@parley/widget and @parley/client import with their types under strict tsc (NodeNext, no skipLibCheck)', () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: [] },
        files: ['shop.ts'],
      }),
    );
    writeFileSync(
      join(project, 'shop.ts'),
      [
        "import { mount } from '@parley/widget';",
        "import { createClient } from '@parley/client';",
        "import '@parley/loader';",
        "const chat = mount({ siteKey: 'pk_live_shop', relayUrl: 'https://chat.shop.example' });",
        "chat.on('unread', (n: number) => document.title = `(${n})`);",
        'chat.open();',
        "const client = createClient({ siteKey: 'pk_live_shop', relayUrl: 'https://chat.shop.example' });",
        "client.send('Where is my order?');",
        // Real types, not `any`: a wrong option is an error.
        '// @ts-expect-error siteKey is a string',
        "createClient({ siteKey: 42, relayUrl: 'https://chat.shop.example' });",
        '// @ts-expect-error mount() takes options',
        'mount();',
        '',
      ].join('\n'),
    );
    const tsc = run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(project, 'tsconfig.json')], project);
    expect(tsc.output).toBe('');
    expect(tsc.code).toBe(0);
  });

  test("@parley/backend's verifyWebhook verifies a signed sample and refuses a tampered one, with its types under strict tsc", () => {
    const secret = 'whsec_' + Buffer.from('a-shop-webhook-secret-0123456789').toString('base64');
    const now = Date.now();
    const body = JSON.stringify({
      id: 'evt_1',
      type: 'message.created',
      createdAt: now,
      siteKey: 'pk_live_shop',
      conversationId: 'c_1',
      visitor: { id: 'v_1' },
      data: { message: { seq: 1, id: 'm_1', ts: now, from: { role: 'visitor' }, body: { type: 'text', text: 'Where is my order?' } } },
    });
    // Standard Webhooks, computed here independently of Parley's code.
    const ts = Math.floor(now / 1000);
    const signature = `v1,${createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64')).update(`evt_1.${ts}.${body}`).digest('base64')}`;
    writeFileSync(
      join(project, 'verify.ts'),
      [
        "import { verifyWebhook, type VerifyWebhookResult } from '@parley/backend';",
        `const headers = { 'webhook-id': 'evt_1', 'webhook-timestamp': '${ts}', 'webhook-signature': ${JSON.stringify(signature)} };`,
        `const body = ${JSON.stringify(body)};`,
        `const good: VerifyWebhookResult = await verifyWebhook(${JSON.stringify(secret)}, headers, body);`,
        `const bad = await verifyWebhook(${JSON.stringify(secret)}, headers, body.replace('order', 'ordre'));`,
        "console.log(JSON.stringify({ good: good.ok ? { type: good.event.type, conversationId: good.event.conversationId } : good, bad: bad.ok ? 'accepted' : bad.code }));",
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(project, 'tsconfig.backend.json'),
      JSON.stringify({ compilerOptions: { strict: true, skipLibCheck: false, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'], outDir: 'out' }, files: ['verify.ts'] }),
    );
    const tsc = run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(project, 'tsconfig.backend.json')], project);
    expect(tsc.output).toBe('');
    const verified = run(process.execPath, ['out/verify.js'], project);
    expect(verified.code, verified.output).toBe(0);
    expect(JSON.parse(verified.stdout)).toEqual({ good: { type: 'message.created', conversationId: 'c_1' }, bad: 'WEBHOOK_BAD_SIGNATURE' });
  });

  test('`npx parley-relay --config relay.json` answers /healthz 200 on SQLite, and fastify (with cookie) loads on this Node', async () => {
    const config = join(project, 'relay.json');
    writeFileSync(
      config,
      JSON.stringify({
        tokenSecret: 'a-shop-token-secret-0123456789abcdef',
        logLevel: 'info',
        engine: { type: 'sqlite', path: join(project, 'data/parley.db') },
        sites: [
          {
            siteKey: 'pk_live_shop',
            name: 'A Shop',
            allowedOrigins: ['https://shop.example'],
            webhookUrl: 'http://127.0.0.1:9/webhooks/parley',
            webhookSecret: 'whsec_' + Buffer.from('a-shop-webhook-secret-0123456789').toString('base64'),
            apiSecret: 'a-shop-api-secret-0123456789',
          },
        ],
      }),
    );
    mkdirSync(join(project, 'data'));
    const relay = spawn('npx', ['parley-relay', '--config', config], { cwd: project, env: cleanEnv({ PORT: '0', HOST: '127.0.0.1' }), detached: true });
    const exited = new Promise<number | null>((resolve) => relay.on('exit', (code) => resolve(code)));
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let out = '';
        const onData = (chunk: Buffer) => {
          out += chunk.toString();
          const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m) resolve(m[1]!);
        };
        relay.stdout.on('data', onData);
        relay.stderr.on('data', onData);
        relay.on('exit', (code) => reject(new Error(`parley-relay exited with ${code}:\n${out.slice(-3000)}`)));
      });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect(existsSync(join(project, 'data/parley.db'))).toBe(true);
      // SIGTERM to the group reaches the relay under npx; it drains and stops answering.
      process.kill(-relay.pid!, 'SIGTERM');
      await exited;
      expect(await fetch(`${base}/healthz`).then(() => 'up', () => 'down')).toBe('down');
    } finally {
      if (relay.exitCode === null && relay.signalCode === null) process.kill(-relay.pid!, 'SIGKILL');
    }
    // The scratch project's fastify, with whatever cookie version npm picked, works here.
    const inject = run(process.execPath, ['--input-type=commonjs', '-e', "const app = require('fastify')(); app.get('/', async () => 'ok'); app.inject({ url: '/', cookies: { a: 'b' } }).then((r) => console.log(r.statusCode, r.body))"], project);
    expect(inject.output.trim()).toBe('200 ok');
    expect(readdirSync(join(project, 'node_modules'))).toContain('cookie');
  });
});
