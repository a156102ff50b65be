import { readFileSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DeskState } from './desk.js';

/** Bumped when the file's shape changes; an older or newer file is refused, not guessed at. */
const DESK_FILE_VERSION = 1;

interface DeskFile extends DeskState {
  version: typeof DESK_FILE_VERSION;
  savedAt: number;
}

/**
 * Read the desk's saved state: null when the file does not exist yet. Throws an error naming
 * the file when it cannot be used, rather than starting empty and overwriting it.
 */
export function readDeskFile(path: string): DeskState | null {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`Cannot read the demo backend's state ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = undefined;
  }
  if (!isDeskFile(value)) {
    throw new Error(`${path} is not a demo backend state file (version ${DESK_FILE_VERSION}); delete it (or its folder) to start over.`);
  }
  const { switchOn, conversations, ratings, contacts, feedback, replies } = value;
  return { switchOn, conversations, ratings, contacts, feedback: Array.isArray(feedback) ? feedback : [], replies };
}

function isDeskFile(value: unknown): value is DeskFile {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    v.version === DESK_FILE_VERSION &&
    typeof v.switchOn === 'boolean' &&
    Array.isArray(v.conversations) &&
    Array.isArray(v.ratings) &&
    Array.isArray(v.contacts) &&
    Array.isArray(v.replies)
  );
}

export interface DeskFileWriter {
  /** Save soon: changes within `debounceMs` share one write. */
  schedule(): void;
  /** Save now (cancelling a scheduled save); resolves when the file is on disk. */
  flush(): Promise<void>;
}

/**
 * Save the desk's state to `path`, debounced. Each save writes a temporary file beside it,
 * syncs it and renames it over the old one, so a crash leaves the previous file or the new
 * one, never half of one. One write at a time; a change during a write queues one more.
 */
export function createDeskFileWriter(
  path: string,
  snapshot: () => DeskState,
  options: { debounceMs?: number; onError?: (err: Error) => void } = {},
): DeskFileWriter {
  const debounceMs = options.debounceMs ?? 200;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  let queued = false;

  const flush = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    // A queued write takes its snapshot when it starts, so it will carry this change too.
    if (queued) return chain;
    queued = true;
    chain = chain
      .then(async () => {
        queued = false;
        const file: DeskFile = { version: DESK_FILE_VERSION, savedAt: Date.now(), ...snapshot() };
        await writeFileAtomic(path, JSON.stringify(file));
      })
      .catch((err: unknown) => options.onError?.(err instanceof Error ? err : new Error(String(err))));
    return chain;
  };

  return {
    schedule() {
      if (timer) return;
      timer = setTimeout(() => void flush(), debounceMs);
      timer.unref();
    },
    flush,
  };
}

async function writeFileAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  await rename(tmp, path);
}
