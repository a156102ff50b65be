// @vitest-environment happy-dom
import { BUILTIN_STRINGS, type PastConversation } from '@parley/protocol';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { fakeClient, msg, T0 } from '../test/fake-client.js';
import { preload } from './lazy.js';
import { mount } from './mount.js';
import type { WidgetHandle } from './options.js';

// The past-conversations view comes with the extras (lazy.ts): loaded once here, it shows at once.
beforeAll(() => preload());

let handle: WidgetHandle | undefined;
afterEach(() => {
  handle?.destroy();
  handle = undefined;
  document.body.innerHTML = '';
});

function setup(patch: Parameters<typeof fakeClient>[0] = {}) {
  const client = fakeClient(patch);
  handle = mount({ siteKey: 'pk_test', relayUrl: 'https://chat.shop.example', client, locale: 'en-US', open: true });
  const root = document.querySelector('parley-chat')!.shadowRoot!;
  const $ = (sel: string) => root.querySelector<HTMLElement>(sel);
  const $$ = (sel: string) => [...root.querySelectorAll<HTMLElement>(sel)];
  const button = (label: string) => {
    const found = $$('button').find((b) => b.textContent === label || b.getAttribute('aria-label') === label);
    if (!found) throw new Error(`no button "${label}" in: ${$('.w')!.textContent}`);
    return found;
  };
  /** The element, once it shows: the past conversations view may be loaded on demand. */
  const find = (sel: string) =>
    vi.waitFor(() => {
      const el = $(sel);
      if (!el) throw new Error(`no ${sel} yet`);
      return el;
    });
  return { client, root, $, $$, button, find };
}

/** Let the fake client's promises settle and the widget draw. */
const settle = () => new Promise((r) => setTimeout(r, 0));

const older: PastConversation = { id: 'c1', createdAt: T0 - 86_400_000, closed: true, lastSeq: 4, preview: 'You are welcome!' };
const newer: PastConversation = { id: 'c2', createdAt: T0 - 3_600_000, closed: false, lastSeq: 2 };

describe('past conversations', () => {
  test('the header button lists them newest first, each with its date and preview; Back returns to the chat', async () => {
    const w = setup({ timeline: [msg('visitor', 'the chat on screen')] });
    w.client.past = [newer, older];
    w.button('Past conversations').click();
    await w.find('.pl .g');
    expect(w.client.calls.filter((c) => c[0] === 'pastConversations')).toHaveLength(1);
    expect(w.$('.ps .o b')!.textContent).toBe('Past conversations');
    const items = w.$$('.pl .g button');
    expect(items.map((b) => b.querySelector('bdi')!.textContent)).toEqual(['', 'You are welcome!']);
    const date = (ts: number) => new Date(ts).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    expect(items.map((b) => b.querySelector('.t')!.textContent)).toEqual([date(newer.createdAt), date(older.createdAt)]);
    // The chat's log is not shown meanwhile; focus is on Back.
    expect(w.$('.m')).toBeNull();
    expect(w.root.activeElement).toBe(w.button('Back'));
    w.button('Back').click();
    expect(w.$('.ps')).toBeNull();
    expect(w.$('.m')!.textContent).toContain('the chat on screen');
  });

  test('a conversation opens read-only, with its close notice; Back goes to the list, then to the chat', async () => {
    const w = setup({ greeting: { text: 'Hi! How can we help?', quickReplies: [] } });
    w.client.past = [older];
    w.client.transcripts.c1 = [
      msg('visitor', 'Where is my parcel?'),
      msg({ role: 'agent', name: 'Mia' }, { type: 'quick_replies', text: 'It left today. Anything else?', replies: [{ label: 'No', value: 'no' }] }),
      { kind: 'event', id: 'e4', seq: 4, ts: T0, event: { type: 'closed' } },
    ];
    w.button('Past conversations').click();
    (await w.find('.pl .g button')).click();
    await w.find('.pv .g');
    expect(w.client.calls.filter((c) => c[0] === 'openPast')).toEqual([['openPast', 'c1']]);
    const transcript = w.$('.pv')!;
    expect([...transcript.querySelectorAll('.g .x')].map((x) => x.textContent)).toEqual(['Where is my parcel?', 'It left today. Anything else?']);
    expect(transcript.querySelector('.g .t bdi')!.textContent).toBe('Mia');
    expect(transcript.querySelector('p.y')!.textContent).toBe('This conversation has ended.');
    // No greeting; its buttons sit in the read-only view, which hides them (styles.ts), and send nothing.
    expect(transcript.textContent).not.toContain('How can we help');
    expect(w.$('.ps .o b')!.textContent).toBe(new Date(older.createdAt).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }));
    expect(w.root.activeElement).toBe(w.button('Back'));
    w.button('Back').click();
    expect(w.$$('.pl .g button')).toHaveLength(1);
    expect(w.root.activeElement).toBe(w.button('Back'));
    w.button('Back').click();
    expect(w.$('.ps')).toBeNull();
    expect(w.client.calls.filter((c) => c[0] === 'postback' || c[0] === 'send')).toEqual([]);
  });

  test('with none it says so; a list that cannot be had returns to the chat; the button waits for the connection', async () => {
    const w = setup();
    w.button('Past conversations').click();
    expect((await w.find('.pl .e')).textContent).toBe('No past conversations yet.');
    w.button('Back').click();
    w.client.pastConversations = () => Promise.reject({ code: 'NOT_READY', message: 'Not connected.' });
    w.button('Past conversations').click();
    await settle();
    expect(w.$('.ps')).toBeNull();
    w.client.update({ state: 'reconnecting' });
    expect(w.$$('button').some((b) => b.getAttribute('aria-label') === 'Past conversations')).toBe(false);
  });

  test("speaks the visitor's language", async () => {
    const w = setup({ lang: { locale: 'de', dir: 'ltr', strings: BUILTIN_STRINGS.de } });
    w.button('Frühere Unterhaltungen').click();
    expect((await w.find('.pl .e')).textContent).toBe('Noch keine früheren Unterhaltungen.');
    expect(w.button('Zurück')).toBeTruthy();
  });
});
