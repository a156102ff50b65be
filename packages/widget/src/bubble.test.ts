// @vitest-environment happy-dom
// The bubble over the closed launcher, as the visitor sees it: `show()`, a message that arrives
// while the panel is closed, proactive triggers from the site config, and the site's theme.
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { fakeClient, msg } from '../test/fake-client.js';
import { installGlobal, type Command, type ParleyGlobal } from './global.js';
import { mount } from './mount.js';
import type { MountOptions, WidgetHandle } from './options.js';

let handle: WidgetHandle | undefined;
beforeEach(() => {
  localStorage.clear();
});
afterEach(() => {
  handle?.destroy();
  handle = undefined;
  document.body.innerHTML = '';
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

function setup(patch: Parameters<typeof fakeClient>[0] = {}, options: Partial<MountOptions> = {}) {
  const client = fakeClient({ state: 'idle', greeting: { text: 'Hi! How can we help?', quickReplies: [] }, ...patch });
  handle = mount({ siteKey: 'pk_test', relayUrl: 'https://chat.shop.example', client, locale: 'en-US', ...options });
  const host = document.querySelector('parley-chat') as HTMLElement;
  const root = host.shadowRoot!;
  const $ = (sel: string) => root.querySelector<HTMLElement>(sel);
  const $$ = (sel: string) => [...root.querySelectorAll<HTMLElement>(sel)];
  const button = (label: string) => {
    const found = $$('button').find((b) => b.textContent === label || b.getAttribute('aria-label') === label);
    if (!found) throw new Error(`no button "${label}" in: ${root.textContent}`);
    return found;
  };
  const calls = (name: string) => client.calls.filter((c) => c[0] === name);
  const opened: number[] = [];
  handle.on('open', () => opened.push(1));
  return { client, host, root, $, $$, button, calls, opened, handle: handle! };
}

const bubbleText = (w: ReturnType<typeof setup>) => w.$('.bb')?.textContent ?? null;

describe('Parley("show") and the bubble', () => {
  test('shows the text and quick replies over the closed launcher, politely announced, and opens no socket', () => {
    const w = setup();
    w.handle.show({ text: 'Free shipping ends tonight. Any questions?', quickReplies: [{ label: 'Shipping times', value: 'shipping' }] });
    const bubble = w.$('.bb')!;
    expect(bubble.getAttribute('role')).toBe('status');
    expect(w.$('.bt')!.textContent).toBe('Free shipping ends tonight. Any questions?');
    expect(w.$$('.bb .q button').map((b) => b.textContent)).toEqual(['Shipping times']);
    expect(w.button('Dismiss')).toBeTruthy();
    expect(w.$('.p')).toBeNull();
    expect(w.calls('connect')).toEqual([]);
  });

  test('a tap on a quick reply opens the panel on the message, connects and sends the reply as a postback', () => {
    const w = setup();
    w.handle.show({ text: 'Free shipping ends tonight. Any questions?', quickReplies: [{ label: 'Shipping times', value: 'shipping' }] });
    w.button('Shipping times').click();
    expect(w.$('.bb')).toBeNull();
    expect(w.opened).toEqual([1]);
    expect(w.calls('connect')).toHaveLength(1);
    expect(w.calls('postback')).toEqual([['postback', { label: 'Shipping times', value: 'shipping' }]]);
    // The conversation starts with the message the visitor answered, not the greeting.
    const groups = w.$$('.m .g');
    expect(groups[0]!.textContent).toContain('Free shipping ends tonight. Any questions?');
    expect(w.$('.m')!.textContent).not.toContain('Hi! How can we help?');
    expect(groups.at(-1)!.textContent).toContain('Shipping times');
  });

  test('a tap on the text opens the panel on the message, with its quick replies there, and sends nothing', () => {
    const w = setup();
    w.handle.show({ text: 'Need help choosing a size?', quickReplies: [{ label: 'Size guide', value: 'sizes' }] });
    w.button('Need help choosing a size?').click();
    expect(w.opened).toEqual([1]);
    expect(w.calls('connect')).toHaveLength(1);
    expect(w.calls('postback')).toEqual([]);
    expect(w.$('.m .g')!.textContent).toContain('Need help choosing a size?');
    expect(w.$$('.m .q button').map((b) => b.textContent)).toEqual(['Size guide']);
  });

  test("Parley('show', …) queued before the bundle shows the bubble once the widget is booted, with no socket", () => {
    const client = fakeClient({ state: 'idle' });
    const q: Command[] = [
      ['show', { text: 'Hello from the page' }],
      ['boot', { siteKey: 'pk_test', relayUrl: 'https://chat.shop.example', client }],
    ];
    const page: { Parley?: ParleyGlobal } = { Parley: Object.assign(() => {}, { q }) };
    installGlobal(page);
    const root = document.querySelector('parley-chat')!.shadowRoot!;
    expect(root.querySelector('.bt')!.textContent).toBe('Hello from the page');
    expect(client.calls.filter((c) => c[0] === 'connect')).toEqual([]);
    page.Parley!('shutdown');
  });

  test('text with markup shows literally: no element is made from it', () => {
    const w = setup();
    w.handle.show({ text: '<img src=x onerror="alert(1)"><b>bold</b>', quickReplies: [{ label: '<script>x()</script>', value: 'x' }] });
    expect(w.$('.bt')!.textContent).toBe('<img src=x onerror="alert(1)"><b>bold</b>');
    expect(w.root.querySelectorAll('.bb img, .bb b, .bb script')).toHaveLength(0);
  });

  test('Dismiss puts it away without connecting; the panel then opens on the greeting', () => {
    const w = setup();
    w.handle.show({ text: 'Need help choosing a size?' });
    w.button('Dismiss').click();
    expect(w.$('.bb')).toBeNull();
    expect(w.calls('connect')).toEqual([]);
    w.handle.open();
    expect(w.$('.m .g')!.textContent).toContain('Hi! How can we help?');
  });

  test('nothing shows while the panel is open; opening the panel puts a bubble away, and closing does not bring it back', () => {
    const w = setup();
    w.handle.open();
    w.handle.show({ text: 'Hello?' });
    expect(w.$('.bb')).toBeNull();
    w.handle.close();
    w.handle.show({ text: 'Hello?' });
    expect(bubbleText(w)).toContain('Hello?');
    w.handle.open();
    w.handle.close();
    expect(w.$('.bb')).toBeNull();
  });
});

describe('a message while the panel is closed', () => {
  test('shows in the bubble with its quick replies, besides the badge; the panel opens on the conversation', () => {
    const w = setup({ state: 'open' });
    const m = msg({ role: 'agent', name: 'Mia' }, { type: 'quick_replies', text: 'Your order shipped today. Anything else?', replies: [{ label: 'No, thanks', value: 'no' }] });
    w.client.update({ timeline: [m], unread: 1 });
    w.client.emit('message', m);
    expect(w.$('.bt')!.textContent).toBe('Your order shipped today. Anything else?');
    expect(w.$('.l .b')!.textContent).toBe('1');
    w.button('No, thanks').click();
    expect(w.calls('postback')).toEqual([['postback', { label: 'No, thanks', value: 'no' }]]);
    expect(w.opened).toEqual([1]);
    // The greeting stays first; the agent's message is in the log, once.
    expect(w.$('.m .g')!.textContent).toContain('Hi! How can we help?');
    expect(w.$('.m')!.textContent!.split('Your order shipped today').length).toBe(2);
  });

  test("not for the visitor's own messages, nor while the panel is open", () => {
    const w = setup({ state: 'open' });
    w.client.emit('message', msg('visitor', 'sent from another tab'));
    expect(w.$('.bb')).toBeNull();
    w.handle.open();
    w.client.emit('message', msg('bot', 'answer while open'));
    expect(w.$('.bb')).toBeNull();
    w.handle.close();
    w.client.emit('message', msg('bot', 'Your refund went through.'));
    expect(bubbleText(w)).toContain('Your refund went through.');
  });

  test('beeps with `sound`, once the visitor has interacted with the page; never without either', async () => {
    const started: number[] = [];
    class FakeAudio {
      currentTime = 0;
      destination = {};
      resume = () => Promise.resolve();
      createGain = () => ({ gain: {}, connect: (x: unknown) => x });
      createOscillator = () => ({ frequency: {}, connect: (x: unknown) => x, start: () => started.push(1), stop: () => {} });
    }
    vi.stubGlobal('AudioContext', FakeAudio);
    const active = { hasBeenActive: false };
    Object.defineProperty(navigator, 'userActivation', { value: active, configurable: true });

    let w = setup({ state: 'open' }, { sound: true });
    w.client.emit('message', msg('bot', 'one'));
    expect(started).toEqual([]); // no gesture on the page yet
    active.hasBeenActive = true;
    w.client.emit('message', msg('bot', 'two'));
    await vi.waitFor(() => expect(started).toEqual([1]));
    handle!.destroy();
    w = setup({ state: 'open' });
    w.client.emit('message', msg('bot', 'three'));
    expect(bubbleText(w)).toContain('three');
    await new Promise((r) => setTimeout(r, 50));
    expect(started).toEqual([1]);
  });
});

describe('the site config', () => {
  test("the site's theme applies when it arrives; the page's own theme wins key by key", () => {
    const w = setup({}, { theme: { zIndex: 10 } });
    expect(w.host.getAttribute('position')).toBe('right');
    w.client.update({ theme: { primary: '#0b5d1e', position: 'left', offset: { y: '5rem' }, zIndex: 99 } });
    expect(w.host.getAttribute('position')).toBe('left');
    expect(w.host.style.getPropertyValue('--parley-primary')).toBe('#0b5d1e');
    expect(w.host.style.getPropertyValue('--parley-offset-y')).toBe('5rem');
    expect(w.host.style.getPropertyValue('--parley-z-index')).toBe('10');
  });

  test('a theme kept from an earlier page applies at mount', () => {
    const w = setup({ theme: { primary: '#0b5d1e', position: 'left' } });
    expect(w.host.getAttribute('position')).toBe('left');
    expect(w.host.style.getPropertyValue('--parley-primary')).toBe('#0b5d1e');
  });

  test("triggers in the config load the trigger code, which shows the trigger's message when its time comes and connects then, not before", async () => {
    await import('./triggers.js'); // loaded once, before the clock stops
    vi.useFakeTimers();
    const w = setup();
    await vi.advanceTimersByTimeAsync(1);
    w.client.update({ triggers: [{ id: 'hello', when: { afterSec: 5 }, message: { text: 'Looking for something?', quickReplies: [{ label: 'Yes', value: 'yes' }] } }] });
    await vi.advanceTimersByTimeAsync(3_000);
    expect(w.$('.bb')).toBeNull();
    expect(w.calls('connect')).toEqual([]);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(w.$('.bt')!.textContent).toBe('Looking for something?');
    // A trigger is intent: the socket opens with its bubble.
    expect(w.calls('connect')).toHaveLength(1);
    w.button('Yes').click();
    expect(w.calls('postback')).toEqual([['postback', { label: 'Yes', value: 'yes' }]]);
  });

  test("a trigger's bubble does not replace one showing", async () => {
    await import('./triggers.js');
    vi.useFakeTimers();
    const w = setup();
    w.handle.show({ text: 'From the page' });
    w.client.update({ triggers: [{ id: 'hello', when: {}, message: { text: 'From a trigger', quickReplies: [] }, everyDays: 0 }] });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(bubbleText(w)).toContain('From the page');
  });
});
