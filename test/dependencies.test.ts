// Every package.json matches its imports: each import of a workspace's files is declared by that
// workspace (tests may also use the root's devDependencies), and each declared dependency is
// imported somewhere in the workspace. This is how an unused dependency or a test-only
// cross-package import gets caught.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../', import.meta.url));

interface Manifest {
  name: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Manifest;
const rootManifest = readJson(join(root, 'package.json'));

/** Declared dependencies used by no import, each with the reason it is needed anyway. */
const USED_WITHOUT_IMPORT: Record<string, string> = {
  typescript: 'the compiler, run as tsc',
  vite: 'the bundler, run as vite build (and imported by vite configs)',
  vitest: 'the test runner',
  knip: 'the unused-code check, run as knip by test/knip.test.ts',
  '@types/node': 'Node typings, loaded by the tsconfig',
  'happy-dom': 'the DOM of component tests, chosen by an environment comment at the top of each',
  'axe-core': 'its axe.min.js is injected into the page by the a11y browser test',
  '@types/better-sqlite3': 'the typings of better-sqlite3',
  '@types/ws': 'the typings of ws, which the public types of @parley/backend import',
  terser: "the script-tag bundle's minifier, chosen by name in packages/widget/vite.config.ts",
};

/** The workspaces: every folder the root's `workspaces` names that holds a package.json. */
function workspaces(): string[] {
  const out: string[] = [];
  for (const pattern of (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces) {
    if (pattern.endsWith('/*')) {
      const dir = join(root, pattern.slice(0, -2));
      for (const name of readdirSync(dir)) if (existsSync(join(dir, name, 'package.json'))) out.push(join(dir, name));
    } else if (existsSync(join(root, pattern, 'package.json'))) out.push(join(root, pattern));
  }
  return out;
}

/** Source files of a workspace (not build output, not dependencies). */
function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|tsx|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
    }
  };
  walk(dir);
  return out;
}

const BUILTIN = new Set(builtinModules);
const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(])import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[\s;])import\s+['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** The packages a file imports by name. */
function importsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  const names = new Set<string>();
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? m[4]!;
    if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || spec.startsWith('virtual:')) continue;
    const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
    if (BUILTIN.has(name)) continue;
    names.add(name);
  }
  return names;
}

const isTestFile = (path: string) => /\.test\.tsx?$/.test(path) || /[/\\](test|test-support)[/\\]/.test(path) || /vite(st)?\.config\./.test(path);

describe('package.json files match the imports', () => {
  const all = workspaces();

  test('every import is declared by its workspace (tests may use the root devDependencies)', () => {
    const undeclared: string[] = [];
    for (const dir of all) {
      const m = readJson(join(dir, 'package.json'));
      // A private workspace (the bench's peers) is never installed by anyone: its devDependencies are its runtime.
      const runtime = new Set([m.name, ...Object.keys(m.dependencies ?? {}), ...Object.keys(m.peerDependencies ?? {}), ...(m.private ? Object.keys(m.devDependencies ?? {}) : [])]);
      const dev = new Set([...runtime, ...Object.keys(m.devDependencies ?? {}), ...Object.keys(rootManifest.devDependencies ?? {})]);
      for (const file of sources(dir)) {
        const allowed = isTestFile(file) ? dev : runtime;
        for (const name of importsOf(file)) if (!allowed.has(name)) undeclared.push(`${relative(root, file)}: ${name}`);
      }
    }
    expect(undeclared, 'declare these in the package.json of the workspace that imports them').toEqual([]);
  });

  test('every declared dependency is imported somewhere in its workspace', () => {
    const unused: string[] = [];
    for (const dir of all) {
      const m = readJson(join(dir, 'package.json'));
      const used = new Set<string>();
      for (const file of sources(dir)) for (const name of importsOf(file)) used.add(name);
      for (const name of [...Object.keys(m.dependencies ?? {}), ...Object.keys(m.devDependencies ?? {})]) {
        if (!used.has(name) && !(name in USED_WITHOUT_IMPORT)) unused.push(`${relative(root, dir)}: ${name}`);
      }
    }
    expect(unused, 'remove these, or say in USED_WITHOUT_IMPORT why they stay').toEqual([]);
  });

  test('every root devDependency is used by the repository', () => {
    const used = new Set<string>();
    for (const file of [...sources(join(root, 'test')), ...sources(join(root, 'scripts')), ...all.flatMap(sources), join(root, 'vitest.config.ts')]) {
      for (const name of importsOf(file)) used.add(name);
    }
    const unused = Object.keys(rootManifest.devDependencies ?? {}).filter((name) => !used.has(name) && !(name in USED_WITHOUT_IMPORT));
    expect(unused).toEqual([]);
  });

  test('the import scanner sees what it must (a check that cannot fail is no check)', () => {
    const probe = join(root, 'test', 'dependencies.test.ts');
    expect([...importsOf(probe)].sort()).toEqual(['vitest']);
    expect(importsOf(join(root, 'packages/relay/src/app.ts')).has('fastify')).toBe(true);
  });
});
