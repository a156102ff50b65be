// Starts the built CLI the ways operators do. `npm test` builds before testing.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { CLOSE } from '@parley/protocol';
import { cli, dataFile, exited, killChildren, listening, requireBuiltCli, root, start } from './test-support/cli-process.js';

const example = join(root, 'examples/relay.config.json');

beforeAll(requireBuiltCli);
afterEach(killChildren);

/** What one `COPY --from=build` of the runtime stage copies: build-stage paths to a destination. */
interface Copy {
  sources: string[];
  dest: string;
}

/** The runtime stage of packages/relay/Dockerfile: WORKDIR, ENV, CMD, the HEALTHCHECK command and its copies from the build stage. */
function dockerfile(): { workdir: string; env: Record<string, string>; cmd: string[]; healthcheck: string[]; copies: Copy[] } {
  const text = readFileSync(join(root, 'packages/relay/Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const stages = text.split(/^FROM /m);
  const lines = stages[stages.length - 1]!.split('\n').map((l) => l.trim());
  const env: Record<string, string> = {};
  let workdir = '';
  let cmd: string[] = [];
  let healthcheck: string[] = [];
  const copies: Copy[] = [];
  for (const line of lines) {
    if (line.startsWith('COPY --from=build ')) {
      const paths = line.slice('COPY --from=build '.length).trim().split(/\s+/);
      copies.push({ sources: paths.slice(0, -1), dest: paths[paths.length - 1]! });
    }
    if (line.startsWith('WORKDIR ')) workdir = line.slice(8).trim();
    if (line.startsWith('ENV ')) for (const m of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!;
    if (line.startsWith('CMD ')) cmd = JSON.parse(line.slice(4)) as string[];
    if (line.startsWith('HEALTHCHECK ')) healthcheck = JSON.parse(line.slice(line.indexOf(' CMD ') + 5)) as string[];
  }
  return { workdir, env, cmd, healthcheck, copies };
}

/** The bytes the relay at `base` serves for both widget files, checked against the files it should hold. */
async function expectAssets(base: string, files: { loader: string; bundle: string }): Promise<void> {
  for (const [name, file] of [['loader.js', files.loader], ['parley.iife.js', files.bundle]] as const) {
    const res = await fetch(`${base}/parley/${name}`);
    expect(res.status, name).toBe(200);
    expect(res.headers.get('content-type'), name).toBe('text/javascript; charset=utf-8');
    expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(file)), name).toBe(true);
  }
}

describe('parley-relay CLI', () => {
  test('`npx parley-relay --config examples/relay.config.json` starts and GET /healthz answers 200', async () => {
    const child = start('npx', ['parley-relay', '--config', example], { PORT: '0', HOST: '127.0.0.1' });
    const base = await listening(child);
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    // The example's `assets` (relative to examples/) serve the built loader and widget bundle.
    await expectAssets(base, { loader: join(root, 'packages/loader/dist/loader.js'), bundle: join(root, 'packages/widget/dist/parley.iife.js') });
    // SIGTERM to the whole group stops the relay itself, not only `npx`.
    process.kill(-child.pid!, 'SIGTERM');
    let stopped = false;
    for (let i = 0; i < 100 && !stopped; i++) {
      stopped = await fetch(`${base}/healthz`).then(
        () => false,
        () => true,
      );
      if (!stopped) await new Promise((r) => setTimeout(r, 50));
    }
    expect(stopped).toBe(true);
  });

  test('starts with the image\'s CMD and ENV, passes its HEALTHCHECK, serves the widget files it copies, and SIGTERM closes sockets with GOING_AWAY', async () => {
    const image = dockerfile();
    // The image's WORKDIR is the repository root; only the config path, the address and where
    // /app/public sits differ here.
    expect(image.workdir).toBe('/app');
    expect(image.env).toMatchObject({ PARLEY_CONFIG: '/config/relay.json', HOST: '0.0.0.0', PARLEY_ASSETS: '/app/public', PARLEY_DATA: '/data/parley.db' });
    // The SQLite file sits on a volume the unprivileged user can write.
    const text = readFileSync(join(root, 'packages/relay/Dockerfile'), 'utf8');
    expect(text).toMatch(/^VOLUME \/data$/m);
    expect(text).toMatch(/chown node:node \/data/);
    // Lay out /app/public as the image does, from the build output its COPY lines name.
    const publicCopies = image.copies.filter((c) => c.dest === './public/' || c.dest === '/app/public/');
    const sources = publicCopies.flatMap((c) => c.sources);
    expect(sources.map((s) => basename(s)).sort()).toEqual(['loader.js', 'parley.iife.js']);
    const publicDir = join(mkdtempSync(join(tmpdir(), 'parley-image-')), 'public');
    mkdirSync(publicDir);
    for (const source of sources) {
      expect(source.startsWith('/app/'), source).toBe(true);
      const built = join(root, source.slice('/app/'.length));
      expect(existsSync(built), `${source} is missing from the build output (npm test builds it)`).toBe(true);
      copyFileSync(built, join(publicDir, basename(source)));
    }
    const [cmd, ...args] = image.cmd;
    const data = dataFile();
    const child = start(cmd!, args, { ...image.env, PARLEY_ASSETS: publicDir, PARLEY_CONFIG: example, PARLEY_DATA: data, PORT: '0', HOST: '127.0.0.1' });
    const base = await listening(child);
    expect(existsSync(data), 'the relay keeps its SQLite file where PARLEY_DATA says').toBe(true);
    await expectAssets(base, { loader: join(publicDir, 'loader.js'), bundle: join(publicDir, 'parley.iife.js') });
    const port = new URL(base).port;
    const [hcCmd, ...hcArgs] = image.healthcheck;
    const health = await exited(start(hcCmd!, hcArgs, { PORT: port }));
    expect(health.code).toBe(0);

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

    // The same HEALTHCHECK fails once nothing answers.
    expect((await exited(start(hcCmd!, hcArgs, { PORT: port }))).code).not.toBe(0);
  });

  test('the image copies every workspace package the relay imports, builds the widget files it serves, and the lockfile nests none of their dependencies', () => {
    const image = readFileSync(join(root, 'packages/relay/Dockerfile'), 'utf8');
    const pkg = JSON.parse(readFileSync(join(root, 'packages/relay/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const workspaces = ['relay', ...Object.keys(pkg.dependencies).filter((d) => d.startsWith('@parley/')).map((d) => d.slice('@parley/'.length))];
    for (const name of workspaces) {
      expect(image, name).toContain(`COPY --from=build /app/packages/${name}/package.json ./packages/${name}/package.json`);
      expect(image, name).toContain(`COPY --from=build /app/packages/${name}/dist ./packages/${name}/dist`);
    }
    // The runtime stage copies only the root node_modules; a dependency npm had to nest under a
    // package would be missing from the image.
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    const nested = Object.keys(lock.packages).filter((p) => workspaces.some((name) => p.startsWith(`packages/${name}/node_modules/`)));
    expect(nested).toEqual([]);

    // The widget files the image serves are built in the build stage by their own workspaces.
    const buildStage = image.replace(/\\\n/g, ' ').split(/^FROM /m)[1]!;
    const served = dockerfile().copies.flatMap((c) => c.sources).filter((s) => s.endsWith('.js'));
    expect(served.length).toBe(2);
    for (const source of served) {
      const name = /^\/app\/packages\/([\w-]+)\/dist\//.exec(source)?.[1];
      expect(name, source).toBeDefined();
      expect(buildStage, source).toMatch(new RegExp(`npm run build( --workspace @parley/[\\w-]+)* --workspace @parley/${name}\\b|npm run build(?! --workspace)`));
    }
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

  test('`assets` without the widget files exits non-zero and names `assets`', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-'));
    writeFileSync(join(dir, 'loader.js'), '/* loader */');
    const { code, output } = await exited(start('node', [cli, '--config', example], { PARLEY_ASSETS: dir, PORT: '0', HOST: '127.0.0.1' }));
    expect(code).not.toBe(0);
    expect(output).toContain('Invalid relay config: assets: parley.iife.js not found in');
    expect(output).not.toContain('Server listening');
  });
});
