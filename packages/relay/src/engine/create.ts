import type { EngineConfig } from '../config.js';
import { MemoryEngine } from './memory.js';
import { RedisEngine } from './redis.js';
import { SqliteEngine } from './sqlite.js';
import type { Engine } from './types.js';

/** The engine a config names, on the given clock. */
export function createEngine(config: EngineConfig, now: () => number): Engine {
  switch (config.type) {
    case 'memory':
      return new MemoryEngine({ now });
    case 'sqlite':
      return new SqliteEngine({ path: config.path, synchronous: config.synchronous, now });
    case 'redis':
      // Every instance must stamp by one clock: the Redis server's, unless a test injected its own.
      return new RedisEngine({ url: config.url, prefix: config.prefix, now: now === Date.now ? undefined : now });
  }
}
