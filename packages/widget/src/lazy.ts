import { Component, createElement, type FunctionComponent } from 'preact';
import { loadExtras } from './extras-import.js';
import { addStyles } from './host.js';

/** The extras module (extras.ts): UI of the rarer states. */
type Extras = Awaited<ReturnType<typeof loadExtras>>;
/** Its components. */
type Name = Exclude<keyof Extras, 'CSS' | 'flash' | 'tone' | 'unflash'>;

let extras: Extras | undefined;
let loading: Promise<void> | undefined;

/**
 * Load the extras now, once: when a state that shows them becomes likely (a rating asked for, the
 * site offline, the conversation closed), so the visitor never waits for them. Never rejects: a
 * failed load leaves `extras` unset, and is tried again on the next call.
 */
export const preload = (): Promise<void> =>
  (loading ||= loadExtras().then(
    (m) => void addStyles((extras = m).CSS),
    () => void (loading = undefined),
  ));

/** Run `fn` with the extras once they are there, loading them now if need be. */
export const withExtras = (fn: (x: Extras) => void): Promise<void> => preload().then(() => extras && fn(extras));

/** The extras if they are loaded, without loading them. */
export const loaded = (): Extras | undefined => extras;

/**
 * `<Extra of="Rating" v={v} />`: the extras' component `of`, given the other props. It renders
 * nothing until the extras are there (they start loading now), then the whole widget again, so
 * the log still follows the conversation to its end. Not once this place is gone meanwhile (`u`):
 * the widget may be too.
 */
export class Extra<K extends Name> extends Component<{ of: K } & Parameters<Extras[K]>[0]> {
  declare u?: 1;
  override render() {
    const p = this.props;
    if (extras) return createElement(extras[p.of] as unknown as FunctionComponent<typeof p>, p);
    // Nothing shows meanwhile; after a failed load, the next render tries again.
    preload().then(() => extras && !this.u && p.v.set({}));
    return null;
  }
  override componentWillUnmount() {
    this.u = 1;
  }
}
