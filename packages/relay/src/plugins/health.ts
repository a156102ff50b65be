import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine/types.js';
import { errorBody } from '../errors.js';

/** `/healthz`: the process is alive. `/readyz`: the engine is ready and the relay is not shutting down. */
export async function healthPlugin(app: FastifyInstance, opts: { engine: Engine; isClosing: () => boolean }): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (opts.engine.isReady() && !opts.isClosing()) return { status: 'ready', engine: opts.engine.name };
    return reply.code(503).send(errorBody('NOT_READY'));
  });
}
