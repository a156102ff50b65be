import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';

// The layering of DESIGN.md: what each package may import. Tests (and the test-support folders they share) may import more.
const ALLOWED: Record<string, string[]> = {
  protocol: ['zod'],
  client: ['@parley/protocol', 'nanoid'],
  widget: ['@parley/client', '@parley/protocol', 'preact'],
  loader: [],
  relay: ['@parley/protocol', 'fastify', '@fastify/websocket', 'ws', 'prom-client', 'ioredis', 'better-sqlite3', 'undici', 'zod', 'pino'],
  backend: ['@parley/protocol', 'ws'],
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'test-support' ? [] : sources(path);
    return /\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name) ? [path] : [];
  });
}

function bareImports(code: string): string[] {
  const found = new Set<string>();
  for (const m of code.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec && !spec.startsWith('.')) found.add(spec);
  }
  return [...found];
}

const packageOf = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);

test.each(Object.keys(ALLOWED))('%s imports only what the layering allows', (pkg) => {
  let files: string[] = [];
  try {
    files = sources(join('packages', pkg, 'src'));
  } catch {
    return;
  }
  const browser = ['client', 'widget', 'loader'].includes(pkg);
  const offences: string[] = [];
  for (const file of files) {
    for (const spec of bareImports(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('node:')) {
        if (browser || pkg === 'protocol') offences.push(`${file}: ${spec}`);
        continue;
      }
      if (!ALLOWED[pkg]!.includes(packageOf(spec))) offences.push(`${file}: ${spec}`);
    }
  }
  expect(offences).toEqual([]);
});
