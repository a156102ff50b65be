/// <reference path="./env.d.ts" />
import { mount } from './mount.js';
import type { MountOptions, WidgetHandle } from './options.js';

/** One queued or live command: `['open']`, `['boot', options]`, `['on', 'unread', fn]`. */
export type Command = [name: string, ...args: unknown[]];

/** `window.Parley`: the loader's stub (with its queue `q`) until the bundle replaces it. */
export type ParleyGlobal = ((...command: Command) => unknown) & { q?: Command[] };

/**
 * The script-tag API. Replays the commands the loader queued in `Parley.q`, in order,
 * then replaces `window.Parley` with the live command function. Commands before `boot`
 * wait for it; `shutdown` removes the widget, and a later `boot` mounts a fresh one.
 */
export function installGlobal(w: { Parley?: ParleyGlobal }, mountWidget: (o: MountOptions) => WidgetHandle = mount): ParleyGlobal {
  let widget: WidgetHandle | undefined;
  const waiting: Command[] = [];
  const Parley: ParleyGlobal = (name, a, b) => {
    if (name === 'boot') {
      if (widget) {
        if (import.meta.env.DEV) console.warn('Parley: already booted; call shutdown first.');
        return;
      }
      widget = mountWidget(a as MountOptions);
      waiting.splice(0).forEach((command) => Parley(...command));
      return;
    }
    if (!widget) return void waiting.push([name, a, b]);
    if (name === 'on') return widget.on(a as 'unread', b as () => void);
    if (name === 'shutdown') {
      widget.shutdown();
      widget = undefined;
      return;
    }
    const fn = (widget as unknown as Record<string, ((arg: unknown) => void) | undefined>)[name];
    if (fn && name !== 'destroy') return fn(a);
    if (import.meta.env.DEV) console.warn(`Parley: unknown command ${name}.`);
  };
  // Commands the stub queues while this replays land in the same array, so order holds.
  (w.Parley?.q ?? []).forEach((command) => Parley(...command));
  w.Parley = Parley;
  return Parley;
}
