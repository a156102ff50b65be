type Handlers<E> = { [K in keyof E]: (...args: any[]) => void };

/** A typed event emitter. A throwing listener is reported asynchronously and does not stop the others. */
export function createEmitter<E extends Handlers<E>>() {
  const map: { [K in keyof E]?: Set<E[K]> } = {};
  return {
    on<K extends keyof E>(event: K, fn: E[K]): () => void {
      (map[event] ??= new Set()).add(fn);
      return () => void map[event]!.delete(fn);
    },
    emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
      map[event]?.forEach((fn) => {
        try {
          fn(...args);
        } catch (e) {
          setTimeout(() => {
            throw e;
          });
        }
      });
    },
  };
}
