// @vitest-environment happy-dom
import { BUILTIN_STRINGS, EN_STRINGS, LIMITS, STRING_KEYS, formatString } from '@parley/protocol';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import type { ChatMessage, SocketLike, StorageLike } from '@parley/client';
import { fakeClient, msg, T0, type FakeClient } from '../test/fake-client.js';
import { luminance } from './contrast.js';
import { preload } from './lazy.js';
import { mount } from './mount.js';
import type { MountOptions, WidgetHandle } from './options.js';

// The rarer forms and bodies come in a module of their own (lazy.ts): loaded once here, every
// render below has them at once.
beforeAll(() => preload());

let handle: WidgetHandle | undefined;
afterEach(() => {
  handle?.destroy();
  handle = undefined;
  document.body.innerHTML = '';
  vi.useRealTimers();
});

function setup(patch: Parameters<typeof fakeClient>[0] = {}, options: Partial<MountOptions> = {}) {
  const client = fakeClient(patch);
  handle = mount({ siteKey: 'pk_test', relayUrl: 'https://chat.shop.example', client, locale: 'en-US', open: true, ...options });
  const host = document.querySelector('parley-chat') as HTMLElement;
  const root = host.shadowRoot!;
  const $ = <E extends Element = HTMLElement>(sel: string) => root.querySelector<E>(sel);
  const $$ = (sel: string) => [...root.querySelectorAll<HTMLElement>(sel)];
  const text = (sel = '.w') => $(sel)?.textContent ?? '';
  const button = (label: string) => {
    const found = $$('button').find((b) => b.textContent === label || b.getAttribute('aria-label') === label);
    if (!found) throw new Error(`no button "${label}" in: ${text()}`);
    return found;
  };
  return { client, host, root, $, $$, text, button, handle: handle! };
}

const calls = (client: FakeClient, name: string) => client.calls.filter((c) => c[0] === name);
/** Chinese as the relay's site config sends it. */
const zh = { locale: 'zh-CN', dir: 'ltr' as const, strings: BUILTIN_STRINGS['zh-CN'] };

function type(el: HTMLTextAreaElement | HTMLInputElement, value: string) {
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
}
const key = (el: Element, key: string, init: KeyboardEventInit = {}) =>
  el.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...init }));

describe('greeting and who is serving', () => {
  test('shows the greeting with its quick replies at once, labelled Bot, and a tap sends the postback', () => {
    const w = setup({ greeting: { text: 'Hi! How can we help?', quickReplies: [{ label: 'Where is my order?', value: 'order' }, { label: 'Returns', value: 'returns' }] } });
    const bubble = w.$('.m .g')!;
    expect(bubble.textContent).toContain('Hi! How can we help?');
    expect(bubble.querySelector('.t')!.textContent).toBe('Bot');
    expect(w.$$('.m .q button').map((b) => b.textContent)).toEqual(['Where is my order?', 'Returns']);
    w.button('Returns').click();
    expect(calls(w.client, 'postback')).toEqual([['postback', { label: 'Returns', value: 'returns' }]]);
    // The visitor answered, so the greeting's buttons are no longer offered.
    expect(w.$$('.m .q button')).toEqual([]);
  });

  test('while the bot serves, the header shows the shop, a Bot badge and a "Talk to a human" button that asks for one', () => {
    const w = setup();
    expect(w.text('.h')).toContain('Trailhead Outfitters');
    expect(w.$('.h .bd')!.textContent).toBe('Bot');
    w.button('Talk to a human').click();
    expect(calls(w.client, 'requestHuman')).toHaveLength(1);
  });

  test('once an agent serves, the header shows their name and avatar instead of the Bot badge', () => {
    const w = setup({ agent: { role: 'agent', name: 'Mia', avatarUrl: 'https://cdn.shop.example/mia.png' } });
    expect(w.text('.h')).toContain('Mia');
    expect(w.$('.h .bd')).toBeNull();
    expect(w.$<HTMLImageElement>('.h img')!.getAttribute('src')).toBe('https://cdn.shop.example/mia.png');
    expect(w.$$('button').some((b) => b.textContent === 'Talk to a human')).toBe(false);
  });

  test('labels every message from others: Bot, the agent by name, the shop for system notes; the visitor unlabelled', () => {
    const w = setup({
      timeline: [
        msg('visitor', 'hello'),
        msg('bot', 'I am the bot'),
        msg({ role: 'agent', name: 'Mia' }, 'I am Mia'),
        msg('system', 'Maintenance tonight'),
      ],
    });
    const labels = w.$$('.m .g').map((g) => (g.classList.contains('v') ? null : g.querySelector('.t')!.textContent));
    expect(labels).toEqual([null, 'Bot', 'Mia', 'Trailhead Outfitters']);
  });

  test('shows a localised time for each message', () => {
    const w = setup({ timeline: [msg('bot', 'hi')] });
    const time = w.$('time')!;
    expect(time.getAttribute('datetime')).toBe(new Date(T0).toISOString());
    expect(time.textContent).toBe(new Intl.DateTimeFormat('en-US', { hour: 'numeric', minute: '2-digit' }).format(T0));
  });
});

describe('message content', () => {
  test('a product card shows its image, linked title, subtitle, price and actions', () => {
    const w = setup({
      timeline: [
        msg('bot', {
          type: 'card',
          kind: 'product',
          title: 'Trail Runner 2',
          subtitle: 'Light, grippy trail shoe',
          price: '€129.00',
          imageUrl: 'https://shop.example/img/runner.png',
          url: 'https://shop.example/p/runner',
          actions: [{ label: 'Add to cart', value: 'add:runner' }, { label: 'Size guide', url: 'https://shop.example/sizes' }],
        }),
      ],
    });
    const card = w.$('.c')!;
    expect(card.querySelector('img')!.getAttribute('src')).toBe('https://shop.example/img/runner.png');
    expect(card.querySelector('b a')!.getAttribute('href')).toBe('https://shop.example/p/runner');
    expect(card.textContent).toContain('Trail Runner 2');
    expect(card.textContent).toContain('Light, grippy trail shoe');
    expect(card.textContent).toContain('€129.00');
    expect(w.$('.c .q a')!.getAttribute('href')).toBe('https://shop.example/sizes');
    w.button('Add to cart').click();
    expect(calls(w.client, 'postback')).toEqual([['postback', { label: 'Add to cart', value: 'add:runner' }]]);
  });

  test('turns http(s) URLs in text into safe links that open in a new tab', () => {
    const w = setup({ timeline: [msg('bot', 'Track it at https://shop.example/track?id=1001. Thanks!')] });
    const a = w.$('.m a')!;
    expect(a.getAttribute('href')).toBe('https://shop.example/track?id=1001');
    expect(a.getAttribute('rel')).toBe('noopener noreferrer');
    expect(a.getAttribute('target')).toBe('_blank');
    expect(w.$('.m .x')!.textContent).toBe('Track it at https://shop.example/track?id=1001. Thanks!');
  });
});

describe('conversation states', () => {
  test('shows who is typing', () => {
    const w = setup({ typing: { role: 'agent', name: 'Mia' } });
    // The name is isolated (FSI … PDI): in a right-to-left sentence its punctuation stays put.
    expect(w.text('.y')).toContain('\u2068Mia\u2069 is typing…');
  });

  test('shows the place in the queue', () => {
    const w = setup({ queue: { position: 3 } });
    expect(w.text('.y')).toBe('You are #3 in line');
  });

  test('announces an agent joining and leaving', () => {
    const mia = { role: 'agent' as const, name: 'Mia' };
    const w = setup({
      timeline: [
        { kind: 'event', id: 'e1', seq: 1, ts: T0, event: { type: 'agent_joined', agent: mia } },
        { kind: 'event', id: 'e2', seq: 2, ts: T0, event: { type: 'agent_left', agent: mia } },
      ],
    });
    expect(w.$$('.m .e').map((e) => e.textContent)).toEqual(['\u2068Mia\u2069 joined the chat', '\u2068Mia\u2069 left the chat']);
  });

  test('asks for a rating with five labelled star buttons and an optional comment', () => {
    const w = setup({ ratingRequested: { text: 'How was Mia?' } });
    expect(w.text('.r')).toContain('How was Mia?');
    expect(w.$$('.r button').map((b) => b.getAttribute('aria-label'))).toEqual(['1 star', '2 stars', '3 stars', '4 stars', '5 stars']);
    w.button('4 stars').click();
    expect(w.button('4 stars').getAttribute('aria-pressed')).toBe('true');
    type(w.$<HTMLTextAreaElement>('.r textarea')!, 'Quick and kind');
    w.button('Submit').click();
    expect(calls(w.client, 'rate')).toEqual([['rate', 4, 'Quick and kind']]);
  });

  test('a closed conversation offers to start a new one instead of the composer', () => {
    const w = setup({ closed: true });
    expect(w.text('.p')).toContain('This conversation has ended.');
    expect(w.$('.f')).toBeNull();
    w.button('Start a new conversation').click();
    expect(calls(w.client, 'restart')).toHaveLength(1);
  });

  test('while disconnected says "Connecting…", shows the offline notice a few seconds later, and keeps the queued messages as "sending"', () => {
    vi.useFakeTimers();
    const w = setup({ state: 'reconnecting', timeline: [msg('visitor', 'first', { status: 'sending' }), msg('visitor', 'second', { status: 'sending' })] });
    expect(w.text('.y')).toBe('Connecting…');
    expect(w.$('.n')).toBeNull();
    vi.advanceTimersByTime(3900);
    expect(w.$('.n')).toBeNull();
    vi.advanceTimersByTime(100);
    expect(w.$('.n')!.textContent).toMatch(/offline/i);
    expect(w.text('.y')).toBe('');
    expect(w.$$('.m .v').map((g) => g.textContent)).toEqual([expect.stringContaining('first'), expect.stringContaining('second')]);
    expect(w.$$('.m .v').every((g) => g.textContent!.includes('Sending…'))).toBe(true);
    // Messages typed now join the queue too.
    type(w.$<HTMLTextAreaElement>('.f textarea')!, 'third');
    key(w.$('.f textarea')!, 'Enter');
    expect(w.$$('.m .v')).toHaveLength(3);
    w.client.update({ state: 'open' });
    expect(w.$('.n')).toBeNull();
    expect(w.text('.y')).toBe('');
    // A connection lost again starts over with "Connecting…".
    w.client.update({ state: 'reconnecting' });
    expect([w.text('.y'), w.$('.n')]).toEqual(['Connecting…', null]);
  });

  test('a failed message says so and offers a retry', () => {
    const failed = msg('visitor', 'hello', { status: 'failed' });
    const w = setup({ timeline: [failed] });
    expect(w.text('.v')).toContain('Not sent');
    w.button('Retry').click();
    expect(calls(w.client, 'retry')).toEqual([['retry', failed.id]]);
  });

  test('shows delivery status on the last visitor message', () => {
    const w = setup({ timeline: [msg('visitor', 'one', { status: 'read' }), msg('visitor', 'two', { status: 'sent' })] });
    expect(w.$$('.m .v').map((g) => g.querySelector('.t')!.textContent!.includes('Sent'))).toEqual([false, true]);
  });

  test('when nobody is online, a leave-a-message form sends the email and message', () => {
    const w = setup({ online: false });
    expect(w.$('.f')).toBeNull();
    expect(w.text('.o')).toContain('Leave a message');
    type(w.$<HTMLInputElement>('.o input')!, 'ana@example.com');
    type(w.$<HTMLTextAreaElement>('.o textarea')!, 'Do you ship to Iceland?');
    w.button('Send message').click();
    expect(calls(w.client, 'leaveMessage')).toEqual([['leaveMessage', 'ana@example.com', 'Do you ship to Iceland?']]);
    expect(w.text('.p')).toContain('Thanks! We will reply by email.');
  });
});

describe('composer', () => {
  test('Enter sends and clears; Shift+Enter and IME composition do not send', () => {
    const w = setup();
    const box = w.$<HTMLTextAreaElement>('.f textarea')!;
    type(box, 'line one');
    key(box, 'Enter', { shiftKey: true });
    key(box, 'Enter', { isComposing: true });
    expect(calls(w.client, 'send')).toEqual([]);
    key(box, 'Enter');
    expect(calls(w.client, 'send')).toEqual([['send', 'line one']]);
    expect(w.$<HTMLTextAreaElement>('.f textarea')!.value).toBe('');
    expect(w.text('.m')).toContain('line one');
  });

  test('the send button is labelled and disabled while the box is empty', () => {
    const w = setup();
    expect(w.button('Send').hasAttribute('disabled')).toBe(true);
    type(w.$<HTMLTextAreaElement>('.f textarea')!, 'hi');
    expect(w.button('Send').hasAttribute('disabled')).toBe(false);
    w.button('Send').click();
    expect(calls(w.client, 'send')).toEqual([['send', 'hi']]);
  });

  test('shows a length counter only near the limit', () => {
    const w = setup();
    const box = w.$<HTMLTextAreaElement>('.f textarea')!;
    expect(box.getAttribute('maxlength')).toBe(String(LIMITS.maxTextLength));
    type(box, 'short');
    expect(w.$('.ct')).toBeNull();
    type(box, 'x'.repeat(LIMITS.maxTextLength - 10));
    expect(w.text('.ct')).toBe(`${LIMITS.maxTextLength - 10}/${LIMITS.maxTextLength}`);
  });

  test('tells the client when the visitor starts and stops typing', () => {
    const w = setup();
    const box = w.$<HTMLTextAreaElement>('.f textarea')!;
    type(box, 'h');
    type(box, 'he');
    type(box, '');
    expect(calls(w.client, 'typing')).toEqual([['typing', true], ['typing', false]]);
  });
});

describe('streamed AI answers', () => {
  const ai = { role: 'bot', name: 'Sage', ai: true } as const;
  /** An answer still being written, as the client puts it in the timeline. */
  const draft = (text: string, id = 'a1'): ChatMessage => ({ kind: 'msg', id, ts: T0, from: ai, body: { type: 'text', text }, draft: true });
  const question = msg('visitor', 'Where is my parcel?', { status: 'sent' });
  /** The text a screen reader hears from the live regions: aria-live and status regions, minus hidden parts. */
  const announced = (root: ShadowRoot) =>
    [...root.querySelectorAll('[aria-live], [role=status], [role=log]')]
      .filter((el) => !el.closest('[aria-hidden=true]'))
      .map((el) => el.textContent)
      .join('\n');
  const count = (haystack: string, needle: string) => haystack.split(needle).length - 1;

  test('a streaming answer grows in place with a caret, labelled AI, and the finished message replaces it', () => {
    const w = setup({ timeline: [question, draft('Your parcel')] });
    const bubble = () => w.$$('.m .g').filter((g) => !g.classList.contains('v'));
    expect(bubble()).toHaveLength(1);
    expect(bubble()[0]!.querySelector('.x')!.textContent).toBe('Your parcel');
    expect(bubble()[0]!.querySelector('.bd')!.textContent).toBe('AI');
    // The caret is drawn by the stylesheet after the draft's text, blinking, and only there.
    const caret = [...w.root.adoptedStyleSheets[0]!.cssRules].find((r): r is CSSStyleRule => r instanceof CSSStyleRule && r.style.content.includes('▍'))!;
    expect(caret.style.animation).toMatch(/infinite/);
    const caretOn = (x: Element) => x.matches(caret.selectorText.replace(/::?after$/, ''));
    expect(caretOn(bubble()[0]!.querySelector('.x')!)).toBe(true);
    w.client.update({ timeline: [question, draft('Your parcel left our warehouse')] });
    expect(bubble().map((g) => g.querySelector('.x')!.textContent)).toEqual(['Your parcel left our warehouse']);
    w.client.update({ timeline: [question, msg(ai, 'Your parcel left our warehouse today.', { id: 'a1' })] });
    const done = bubble();
    expect(done).toHaveLength(1);
    expect(done[0]!.querySelector('.x')!.textContent).toBe('Your parcel left our warehouse today.');
    expect(caretOn(done[0]!.querySelector('.x')!)).toBe(false);
    expect(w.$$('.m .x').filter(caretOn)).toEqual([]);
    expect(w.$$('.m .x').filter((x) => x.textContent!.startsWith('Your parcel'))).toHaveLength(1);
  });

  test('the log follows a streaming answer while the visitor is at the bottom, and stays put once they scroll up', () => {
    const w = setup({ timeline: [question, draft('Your')] });
    const log = w.$('.m')!;
    // Layout stand-in: the log is as tall as its text is long.
    const height = () => log.textContent!.length * 20;
    Object.defineProperty(log, 'scrollHeight', { get: height });
    Object.defineProperty(log, 'clientHeight', { get: () => 100 });
    log.scrollTop = height() - 100; // at the bottom
    w.client.update({ timeline: [question, draft('Your parcel')] });
    expect(log.scrollTop).toBe(height());
    log.scrollTop = 0; // scrolled up to read
    w.client.update({ timeline: [question, draft('Your parcel left')] });
    expect(log.scrollTop).toBe(0);
  });

  test('the reduced-motion rule stops the caret blinking', () => {
    const w = setup();
    const rules = [...w.root.adoptedStyleSheets[0]!.cssRules];
    const reduced = rules.find((r): r is CSSMediaRule => r instanceof CSSMediaRule && r.conditionText.includes('prefers-reduced-motion'));
    expect(reduced?.cssText).toMatch(/:after\s*\{[^}]*animation:\s*none\s*!important/);
  });

  test('screen readers hear the finished answer once, never the words as they stream', () => {
    const w = setup({ timeline: [question, draft('Checking the carrier')] });
    expect(announced(w.root)).toContain('Where is my parcel?');
    expect(announced(w.root)).not.toContain('Checking the carrier');
    w.client.update({ timeline: [question, draft('Checking the carrier: your parcel is in Lyon')] });
    expect(announced(w.root)).not.toContain('Checking the carrier');
    w.client.update({ timeline: [question, msg(ai, 'Checking the carrier: your parcel is in Lyon.', { id: 'a1' })] });
    expect(count(announced(w.root), 'Checking the carrier: your parcel is in Lyon.')).toBe(1);
    expect(count(w.text('.p'), 'Checking the carrier')).toBe(1);
  });

  test('the rule-based bot keeps its Bot label next to AI answers', () => {
    const w = setup({ timeline: [msg('bot', 'Pick a topic'), msg(ai, 'Here is what I found')] });
    expect(w.$$('.m .bd').map((b) => b.textContent)).toEqual(['Bot', 'AI']);
    w.client.update({ typing: ai });
    expect(w.text('.y')).toContain('\u2068AI\u2069 is typing…');
  });

  test('sources show under the answer as safe links; a javascript: source is never a link', () => {
    const w = setup({
      timeline: [
        msg(ai, {
          type: 'text',
          text: 'Returns are free within 30 days.',
          sources: [
            { title: 'Returns policy', url: 'https://shop.example/returns' },
            { title: 'Evil', url: 'javascript:alert(1)' },
            { title: 'FAQ', url: 'http://shop.example/faq' },
          ],
        }),
      ],
    });
    const line = w.$$('.m .g p').find((p) => p.textContent!.startsWith('Sources'))!;
    const links = [...line.querySelectorAll('a')];
    expect(links.map((a) => [a.textContent, a.getAttribute('href')])).toEqual([
      ['Returns policy', 'https://shop.example/returns'],
      ['Evil', null],
      ['FAQ', 'http://shop.example/faq'],
    ]);
    for (const a of links) {
      expect(a.getAttribute('rel')).toBe('noopener noreferrer');
      expect(a.getAttribute('target')).toBe('_blank');
    }
    expect(w.root.innerHTML).not.toContain('javascript:');
  });

  test('an answer with an empty source list shows no sources line', () => {
    const w = setup({ timeline: [msg(ai, { type: 'text', text: 'Hello', sources: [] })] });
    // Only the sender line, the text and the time line: no "Sources", no stray "0".
    expect([...w.$('.m .g')!.childNodes].map((n) => n.textContent)).toEqual(['Sage AI', 'Hello', expect.stringMatching(/^\d+:30\s[AP]M👍👎$/)]);
  });

  test('👍 and 👎 on a finished AI answer are labelled toggles; 👎 opens a one-line comment that sends once', () => {
    const answer = msg(ai, 'Try size 42.', { id: 'a1' });
    const w = setup({ timeline: [question, answer, msg('bot', 'Rule-based', { id: 'b9' })] });
    // Only on the AI answer, not on the rule-based bot's message nor the visitor's.
    expect(w.$$('.m .fb').map((b) => b.getAttribute('aria-label'))).toEqual(['Helpful', 'Not helpful']);
    expect(w.$$('.m .fb').map((b) => b.getAttribute('aria-pressed'))).toEqual(['false', 'false']);
    w.button('Helpful').click();
    expect(calls(w.client, 'feedback')).toEqual([['feedback', 'a1', 'up', undefined]]);
    expect(w.$$('.m .fb').map((b) => b.getAttribute('aria-pressed'))).toEqual(['true', 'false']);
    expect(w.$('.m input')).toBeNull();
    w.button('Not helpful').click();
    expect(calls(w.client, 'feedback')).toEqual([['feedback', 'a1', 'up', undefined], ['feedback', 'a1', 'down', undefined]]);
    expect(w.$$('.m .fb').map((b) => b.getAttribute('aria-pressed'))).toEqual(['false', 'true']);
    const box = w.$<HTMLInputElement>('.m input')!;
    expect(box.getAttribute('aria-label')).toBe('Comment (optional)');
    expect(w.root.activeElement).toBe(box);
    type(box, 'It is a 43 in that brand');
    w.button('Send').click(); // the comment's own Send, listed before the composer's
    expect(calls(w.client, 'feedback').at(-1)).toEqual(['feedback', 'a1', 'down', 'It is a 43 in that brand']);
    expect(calls(w.client, 'feedback')).toHaveLength(3);
    expect(w.$('.m input')).toBeNull();
    // Focus stays in the panel, on the 👎 the comment belonged to.
    expect(w.root.activeElement).toBe(w.button('Not helpful'));
    // An empty comment sends nothing more.
    w.button('Not helpful').click();
    w.button('Send').click();
    expect(calls(w.client, 'feedback')).toHaveLength(4);
  });

  test('no 👍/👎 while the answer is still being written', () => {
    const w = setup({ timeline: [question, draft('Try size')] });
    expect(w.$$('.m .fb')).toEqual([]);
  });

  test('an interrupted answer says so, keeps its text, and "Talk to a human" stays one tap away', () => {
    const w = setup({ timeline: [question, msg(ai, 'Your parcel is', { id: 'a1', incomplete: true })] });
    const g = w.$$('.m .g').at(-1)!;
    expect(g.querySelector('.x')!.textContent).toBe('Your parcel is');
    expect(g.textContent).toContain('Answer interrupted');
    w.button('Talk to a human').click();
    expect(calls(w.client, 'requestHuman')).toHaveLength(1);
  });

  test('while an answer streams, "Talk to a human" and the composer stay usable', () => {
    const w = setup({ timeline: [question, draft('Let me look')] });
    w.button('Talk to a human').click();
    expect(calls(w.client, 'requestHuman')).toHaveLength(1);
    const box = w.$<HTMLTextAreaElement>('.f textarea')!;
    expect(box.disabled).toBe(false);
    type(box, 'never mind');
    key(box, 'Enter');
    expect(calls(w.client, 'send')).toEqual([['send', 'never mind']]);
  });

  test('zh-CN has its own strings for the AI label, sources, feedback and the interruption note', () => {
    const w = setup(
      { lang: zh, timeline: [msg(ai, { type: 'text', text: '好的', sources: [{ title: '退货政策', url: 'https://shop.example/r' }] }, { incomplete: true })] },
      { locale: 'zh-CN' },
    );
    expect(w.$('.m .bd')!.textContent).toBe('AI');
    expect(w.text('.m')).toContain('来源');
    expect(w.text('.m')).toContain('回答已中断');
    expect(w.$$('.m .fb').map((b) => b.getAttribute('aria-label'))).toEqual(['有帮助', '没有帮助']);
  });
});

describe('launcher, focus and keyboard', () => {
  test('the launcher shows the unread count, and opening marks everything read', () => {
    const w = setup({ unread: 2 }, { open: false });
    expect(w.$('.p')).toBeNull();
    const launcher = w.$('.l')!;
    expect(launcher.getAttribute('aria-label')).toBe('Open chat (2 unread)');
    expect(w.text('.b')).toBe('2');
    launcher.click();
    expect(launcher.getAttribute('aria-expanded')).toBe('true');
    expect(calls(w.client, 'markRead')).toHaveLength(1);
    expect(w.$('.b')).toBeNull();
  });

  test('focus moves into the panel on open, Esc closes it, and focus returns to the launcher', () => {
    const w = setup({}, { open: false });
    const events: string[] = [];
    w.handle.on('open', () => events.push('open'));
    w.handle.on('close', () => events.push('close'));
    w.handle.open();
    expect(w.root.activeElement).toBe(w.$('.f textarea'));
    key(w.$('.f textarea')!, 'Escape');
    expect(w.$('.p')).toBeNull();
    expect(w.root.activeElement).toBe(w.$('.l'));
    expect(events).toEqual(['open', 'close']);
  });

  test('every focus ring stands out at least 3:1 from what surrounds the control, on the coloured header and bubbles too', () => {
    const w = setup({
      greeting: { text: 'Hi', quickReplies: [{ label: 'Returns', value: 'r' }] },
      timeline: [msg('bot', 'See https://shop.example/a'), msg('visitor', 'Is https://shop.example/b in stock?', { status: 'failed' })],
    });
    const contrast = (a: string, b: string) => {
      const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p) as [number, number];
      return (x + 0.05) / (y + 0.05);
    };
    const primary = getComputedStyle(w.$('.w')!).getPropertyValue('--p').trim();
    const hex = (c: string) => (c.includes('var(--p)') ? primary : c);
    const rings = [...w.root.adoptedStyleSheets[0]!.cssRules].filter(
      (r): r is CSSStyleRule => r instanceof CSSStyleRule && r.selectorText.includes(':focus-visible'),
    );
    /** The ring colour of the last :focus-visible rule that matches `el` (the overrides come last and are more specific). */
    const ring = (el: Element) => {
      let colour = '';
      for (const r of rings)
        for (const sel of r.selectorText.split(','))
          if (sel.includes(':focus-visible') && el.matches(sel.trim().replace(/(^|\s):focus-visible/, '$1*').replace(':focus-visible', ''))) colour = r.style.outlineColor;
      return hex(colour);
    };
    /** The ring sits just outside the control: the first painted background around it (the page is white). */
    const around = (el: Element) => {
      for (let p = el.parentElement; p; p = p.parentElement) {
        const bg = getComputedStyle(p).backgroundColor;
        if (bg && bg !== 'transparent') return hex(bg);
      }
      return '#ffffff';
    };
    const controls = w.$$('button, a, textarea, input');
    expect(controls.length).toBeGreaterThanOrEqual(8); // launcher, header buttons, two links, retry, text box, send
    const weak = controls.filter((el) => !(contrast(ring(el), around(el)) >= 3)).map((el) => el.outerHTML.slice(0, 60));
    expect(weak).toEqual([]);
  });

  test('every control is a labelled button', () => {
    const w = setup({
      greeting: { text: 'Hi', quickReplies: [{ label: 'Returns', value: 'r' }] },
      ratingRequested: {},
      timeline: [msg('visitor', 'x', { status: 'failed' })],
    });
    for (const b of w.$$('button')) expect((b.getAttribute('aria-label') || b.textContent || '').trim()).not.toBe('');
    expect(w.$('[role=log]')!.getAttribute('aria-live')).toBe('polite');
  });
});

describe('isolation and theme', () => {
  test('styles come only from an adopted stylesheet: no <style> element, no style attribute', () => {
    const w = setup({ timeline: [msg('bot', 'hi')] }, { theme: { primary: '#0a7d32', offset: 32, zIndex: 1000, position: 'left' } });
    expect(w.root.adoptedStyleSheets).toHaveLength(1);
    expect(w.root.querySelector('style, [style]')).toBeNull();
    expect(w.host.getAttribute('position')).toBe('left');
    expect(w.host.style.getPropertyValue('--parley-primary')).toBe('#0a7d32');
    expect(w.host.style.getPropertyValue('--parley-offset')).toBe('32px');
    expect(w.host.style.getPropertyValue('--parley-z-index')).toBe('1000');
  });

  test('in development, warns about a primary colour too light for white text', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      setup({}, { theme: { primary: '#7fb3ff' } });
      expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringContaining('4.5:1')]);
    } finally {
      warn.mockRestore();
    }
  });
});

describe('locales and direction', () => {
  /** Every piece of English of the strings table a visitor could see or hear, but for the words a language shares ("AI"). */
  const englishOf = (table: Record<string, string>) =>
    STRING_KEYS.filter((k) => table[k] !== EN_STRINGS[k]).flatMap((k) =>
      formatString(EN_STRINGS[k], { n: 2, name: 'Mia' })
        .split(/\u2068Mia\u2069|2/)
        .map((part) => part.trim())
        .filter((part) => part.length > 2),
    );
  /** The text of the widget and of its labels and placeholders. */
  const seen = (root: ShadowRoot) =>
    [root.textContent ?? '', ...[...root.querySelectorAll('[aria-label], [placeholder]')].flatMap((el) => [el.getAttribute('aria-label') ?? '', el.getAttribute('placeholder') ?? ''])].join('\n');

  test('a zh-CN visitor sees no English string of the table, in any state of the conversation', () => {
    const mia = { role: 'agent' as const, name: 'Mia' };
    const ai = { role: 'bot' as const, name: 'Sage', ai: true };
    const greeting = { text: '您好！有什么可以帮您？', quickReplies: [{ label: '配送', value: 'shipping' }] };
    const states: Parameters<typeof fakeClient>[0][] = [
      { greeting, unread: 2, typing: { role: 'bot' } },
      {
        queue: { position: 3 },
        timeline: [
          msg('visitor', '你好', { status: 'sending', seq: undefined }),
          msg('visitor', '在吗', { status: 'failed', seq: undefined }),
          { kind: 'event', id: 'e1', seq: 1, ts: T0, event: { type: 'handoff', state: 'requested' } },
          { kind: 'event', id: 'e2', seq: 2, ts: T0, event: { type: 'agent_joined', agent: mia } },
          msg(mia, '您好'),
          { kind: 'event', id: 'e3', seq: 3, ts: T0, event: { type: 'agent_left', agent: mia } },
          msg('visitor', { type: 'rating', score: 4 }, { status: 'read' }),
        ],
      },
      { typing: mia, ratingRequested: {}, timeline: [msg(ai, { type: 'text', text: '好的', sources: [{ title: '退货', url: 'https://shop.example/r' }] }, { incomplete: true })] },
      { state: 'reconnecting', closed: true, timeline: [{ kind: 'event', id: 'e4', seq: 4, ts: T0, event: { type: 'closed' } }] },
      { online: false },
      { online: false, agent: mia },
    ];
    const english = englishOf(zh.strings!);
    expect(english.length).toBeGreaterThan(30);
    for (const state of states) {
      const w = setup({ lang: zh, ...state }, { locale: 'zh-CN' });
      // 👎 opens the comment box; the launcher is labelled while closed, too.
      w.$('.m .fb:last-of-type')?.click();
      const text = seen(w.root);
      w.handle.close();
      const all = text + seen(w.root);
      expect(english.filter((e) => all.includes(e)), all).toEqual([]);
      expect(w.$('.w')!.getAttribute('lang')).toBe('zh-CN');
      handle!.destroy();
    }
  });

  test('the table the relay sends replaces the bundled English when it arrives; a key it lacks stays English', () => {
    const w = setup({}, { locale: 'zh-CN' });
    expect(w.button('Talk to a human')).toBeTruthy();
    w.client.update({ lang: { locale: 'zh-CN', dir: 'ltr', strings: { human: '转人工客服' } } });
    expect(w.button('转人工客服')).toBeTruthy();
    expect(w.$<HTMLTextAreaElement>('.f textarea')!.placeholder).toBe('Type a message…');
  });

  test('asking for a human in zh-CN shows the request in Chinese in the conversation', () => {
    const w = setup({ lang: zh }, { locale: 'zh-CN' });
    w.button('转人工客服').click();
    expect(w.$$('.m .v .x').map((x) => x.textContent)).toEqual(['转人工客服']);
  });

  test('ar: right to left, Arabic strings, and text of another direction keeps its own', () => {
    const w = setup(
      {
        lang: { locale: 'ar', dir: 'rtl', strings: BUILTIN_STRINGS.ar! },
        greeting: { text: 'مرحبًا! كيف يمكننا مساعدتك؟', quickReplies: [{ label: 'Where is my order?', value: 'order' }] },
        typing: { role: 'agent', name: 'Mia' },
      },
      { locale: 'ar-EG' },
    );
    const panel = w.$('.w')!;
    expect([panel.getAttribute('dir'), panel.getAttribute('lang')]).toEqual(['rtl', 'ar']);
    expect(w.host.getAttribute('position')).toBe('left');
    expect(w.button('التحدث إلى موظف')).toBeTruthy();
    expect(w.$<HTMLTextAreaElement>('.f textarea')!.placeholder).toBe('اكتب رسالة…');
    expect(w.text('.y')).toContain('\u2068Mia\u2069 يكتب…');
    // Message text, buttons and cards take the direction of their own text.
    expect(w.$$('.m .x, .m .q button').map((el) => el.getAttribute('dir'))).toEqual(['auto', 'auto']);
    w.client.update({ timeline: [msg('bot', { type: 'card', kind: 'order', title: 'Order #1001', subtitle: 'Shipped.' })] });
    expect(w.$('.m .c')!.getAttribute('dir')).toBe('auto');
    expect(w.$<HTMLTextAreaElement>('.f textarea')!.getAttribute('dir')).toBe('auto');
    expect(englishOf(BUILTIN_STRINGS.ar!).filter((e) => seen(w.root).includes(e))).toEqual([]);
  });

  test('right-to-left: the dir option, or an RTL locale, sets dir and puts the launcher on the left', () => {
    let w = setup({}, { dir: 'rtl' });
    expect(w.$('.w')!.getAttribute('dir')).toBe('rtl');
    handle!.destroy();
    w = setup({}, { locale: 'ar-EG' });
    expect(w.$('.w')!.getAttribute('dir')).toBe('rtl');
    expect(w.host.getAttribute('position')).toBe('left');
    handle!.destroy();
    w = setup({}, { locale: 'en-GB' });
    expect(w.$('.w')!.getAttribute('dir')).toBe('ltr');
  });
});

describe('unsafe content shows as text', () => {
  const nasty = ['<img src=x onerror=alert(1)>', '<script>alert(1)</script>', 'javascript:alert(1)', '<a href="javascript:alert(1)">x</a>'];

  test.each(nasty)('message text %s shows literally, with no element or link made from it', (text) => {
    const w = setup({ timeline: [msg('bot', text), msg('visitor', text, { status: 'sent' })] });
    expect(w.$$('.m .x').map((x) => x.textContent)).toEqual([text, text]);
    expect(w.root.querySelector('.m img, .m script, .m a')).toBeNull();
  });

  test('card fields with markup or javascript: URLs give no element, no image and no non-http link', () => {
    const w = setup({
      timeline: [
        msg('bot', {
          type: 'card',
          kind: 'order',
          title: '<img src=x onerror=alert(1)>',
          subtitle: '<script>alert(1)</script>',
          price: '<b>free</b>',
          imageUrl: 'javascript:alert(1)',
          url: 'javascript:alert(1)',
          actions: [{ label: '<i>go</i>', url: 'javascript:alert(1)' }, { label: 'data', url: 'data:text/html,<script>alert(1)</script>' }],
        }),
        msg('bot', { type: 'file', name: 'invoice.pdf', size: 1, mime: 'application/pdf', url: 'javascript:alert(1)' }),
      ],
    });
    expect(w.text('.c')).toContain('<img src=x onerror=alert(1)>');
    expect(w.text('.c')).toContain('<script>alert(1)</script>');
    expect(w.root.querySelector('.m img, .m script, .m i, .m b b')).toBeNull();
    for (const a of w.$$('a[href]')) expect(a.getAttribute('href')).toMatch(/^https?:\/\//);
  });

  test('a link in text stops at markup and never carries a script', () => {
    const w = setup({ timeline: [msg('bot', 'see https://shop.example/"><script>alert(1)</script> and javascript://x')] });
    expect(w.$$('.m a').map((a) => a.getAttribute('href'))).toEqual(['https://shop.example/']);
    expect(w.root.querySelector('.m script')).toBeNull();
  });
});

describe('handle', () => {
  test('forwards product, context, identify, send and consent to the client', () => {
    const w = setup();
    const card = { id: 'runner', title: 'Trail Runner 2', price: '€129.00' };
    w.handle.product(card);
    w.handle.context({ url: 'https://shop.example/cart', title: 'Cart' });
    w.handle.identify({ userId: 'u1', name: 'Ana' });
    w.handle.send('hello');
    w.handle.consent();
    expect(w.client.calls.filter((c) => c[0] !== 'prepare' && c[0] !== 'connect' && c[0] !== 'markRead')).toEqual([
      ['setContext', { product: card }],
      ['setContext', { url: 'https://shop.example/cart', title: 'Cart' }],
      ['identify', { userId: 'u1', name: 'Ana' }],
      ['send', 'hello'],
      ['consent'],
    ]);
  });

  test('on() passes client events through', () => {
    const w = setup();
    const seen: number[] = [];
    const off = w.handle.on('unread', (n) => seen.push(n));
    w.client.emit('unread', 4);
    off();
    w.client.emit('unread', 5);
    expect(seen).toEqual([4]);
  });

  test('shutdown makes the client forget and removes the widget; destroy only removes it', () => {
    const w = setup();
    w.handle.shutdown();
    handle = undefined;
    expect(calls(w.client, 'shutdown')).toHaveLength(1);
    expect(document.querySelector('parley-chat')).toBeNull();
  });

  test('closed, it prepares the client without connecting and renders the launcher alone; opening connects', async () => {
    const w = setup({ state: 'idle', greeting: { text: 'Hi!', quickReplies: [] }, timeline: [msg('bot', 'hi')] }, { open: false });
    // Prepared in the next task, apart from the first render.
    expect(w.client.calls).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve));
    expect(w.client.calls.map((c) => c[0])).toEqual(['prepare']);
    // Nothing hidden is rendered: the launcher is the widget's only element.
    expect(w.$$('.w > *').map((e) => e.className)).toEqual(['l']);
    expect(w.$('.p')).toBeNull();
    w.button('Open chat').click();
    expect(calls(w.client, 'connect')).toHaveLength(1);
    expect(w.text('.m')).toContain('Hi!');
    w.button('Close chat').click();
    w.handle.open();
    expect(calls(w.client, 'connect')).toHaveLength(2); // idempotent in the client
  });

  test('builds its time format only when a time is first shown, and once', () => {
    const Real = Intl.DateTimeFormat;
    let made = 0;
    Intl.DateTimeFormat = class extends Real {
      constructor(...args: ConstructorParameters<typeof Real>) {
        super(...args);
        made++;
      }
    } as typeof Real;
    try {
      const w = setup({ timeline: [msg('bot', 'hi')] }, { open: false });
      w.client.update({ timeline: [msg('bot', 'hi'), msg('bot', 'there')] });
      expect(made).toBe(0);
      w.handle.open();
      expect(w.$$('time')).toHaveLength(2);
      w.client.update({ timeline: [...w.client.getSnapshot().timeline, msg('agent', 'and more')] });
      expect(w.$$('time')).toHaveLength(3);
      expect(made).toBe(1);
    } finally {
      Intl.DateTimeFormat = Real;
    }
  });
});

/** A socket to a relay that does not answer until the test says so. */
class RelaySocket implements SocketLike {
  readyState = 0;
  sent: { t: string; [key: string]: unknown }[] = [];
  onopen: SocketLike['onopen'] = null;
  onclose: SocketLike['onclose'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onerror: SocketLike['onerror'] = null;
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
  /** The relay answers at last: the socket opens and the hello gets its welcome. */
  answer() {
    this.readyState = 1;
    this.onopen?.({});
    this.recv({
      t: 'welcome',
      v: 1,
      conversationId: 'c1',
      visitorId: 'v1',
      token: 'tok-1',
      lastSeq: 0,
      greeting: { text: 'Hello from the relay', quickReplies: [] },
      site: { name: 'Trailhead Outfitters (live)' },
      online: true,
      limits: { maxFrameBytes: 16384, maxTextLength: 4000, maxQuickReplies: 10 },
    });
  }
  recv(frame: object) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

const greeting = { text: 'Hi! How can we help?', quickReplies: [{ label: 'Returns', value: 'returns' }] };
const memory = (): StorageLike => {
  const map = new Map<string, string>();
  return { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v), removeItem: (k) => void map.delete(k) };
};
/** Let the client's coalesced `change` (a microtask) and due timers run. */
const settle = () => vi.advanceTimersByTimeAsync(0);

/** The widget with a real client over sockets the test drives; the relay's config never answers unless `fetch` says otherwise. */
function live(options: Partial<MountOptions> = {}) {
  const sockets: RelaySocket[] = [];
  handle = mount({
    siteKey: 'pk_test',
    relayUrl: 'https://chat.shop.example',
    locale: 'en-US',
    storage: null,
    fetch: () => new Promise(() => {}),
    createSocket: () => {
      const s = new RelaySocket();
      sockets.push(s);
      return s;
    },
    ...options,
  });
  const root = document.querySelector('parley-chat')!.shadowRoot!;
  const $ = <E extends Element = HTMLElement>(sel: string) => root.querySelector<E>(sel);
  const text = (sel: string) => $(sel)?.textContent ?? '';
  return { handle: handle!, sockets, root, $, text, frames: (t: string) => sockets.flatMap((s) => s.sent).filter((f) => f.t === t) };
}

describe('never blank, and the small things', () => {
  test('a first visit with the relay not answering shows the shop, its greeting and "Connecting…", then the offline notice; a message typed meanwhile waits and goes once', async () => {
    vi.useFakeTimers();
    // The shop's name and greeting from the boot options: nothing has come from the relay yet.
    const w = live({ siteName: 'Trailhead Outfitters', greeting });
    w.handle.open();
    await settle();
    expect(w.text('.h b')).toBe('Trailhead Outfitters');
    expect(w.$('[role=dialog]')!.getAttribute('aria-label')).toBe('Trailhead Outfitters');
    expect(w.text('.m')).toContain('Hi! How can we help?');
    expect(w.text('.y')).toBe('Connecting…');
    expect(w.$('.n')).toBeNull();
    await vi.advanceTimersByTimeAsync(4000);
    expect(w.text('.n')).toMatch(/offline/i);
    expect(w.text('.y')).toBe('');

    const box = w.$<HTMLTextAreaElement>('.f textarea')!;
    type(box, 'Do you ship to Iceland?');
    key(box, 'Enter');
    await settle();
    expect(w.text('.m .v')).toContain('Sending…');
    expect(w.frames('send')).toEqual([]);

    w.sockets.at(-1)!.answer();
    await settle();
    expect(w.frames('send')).toEqual([{ t: 'send', id: expect.any(String), body: { type: 'text', text: 'Do you ship to Iceland?' } }]);
    expect(w.$('.n')).toBeNull();
    expect(w.text('.y')).toBe('');
    expect(w.text('.h b')).toBe('Trailhead Outfitters (live)');
  });

  test('with the browser itself offline, the offline notice shows at once', () => {
    vi.spyOn(navigator, 'onLine', 'get').mockReturnValue(false);
    try {
      const w = setup({ state: 'reconnecting', greeting });
      expect(w.text('.n')).toMatch(/offline/i);
      expect(w.text('.m')).toContain('Hi! How can we help?');
    } finally {
      vi.restoreAllMocks();
    }
  });

  test('on a later page, the site config kept from an earlier one shows while the relay does not answer', async () => {
    vi.useFakeTimers();
    const storage = memory();
    const config = { v: 1, site: { name: 'Trailhead Outfitters' }, greeting, online: true };
    live({ storage, fetch: async () => ({ json: async () => config }) });
    await settle(); // prepare() read the config
    handle!.destroy();
    const w = live({ storage });
    w.handle.open();
    await settle();
    expect(w.text('.h b')).toBe('Trailhead Outfitters');
    expect(w.text('.m')).toContain('Hi! How can we help?');
    expect(w.text('.y')).toBe('Connecting…');
  });

  test('`unread` stays 0 and no badge shows, not even for a moment, while the panel is open and visible; closed, it counts', async () => {
    vi.useFakeTimers();
    const w = live();
    const counts: number[] = [];
    w.handle.on('unread', (n) => counts.push(n));
    let badges = 0;
    new MutationObserver((records) =>
      records.forEach((r) => r.addedNodes.forEach((n) => (n as Element).classList?.contains('b') && badges++)),
    ).observe(w.root, { subtree: true, childList: true });
    const bot = (seq: number) => ({ t: 'msg', seq, id: `b${seq}`, ts: T0, from: { role: 'bot' }, body: { type: 'text', text: `answer ${seq}` } });
    w.handle.open();
    w.sockets[0]!.answer();
    w.sockets[0]!.recv(bot(1));
    await settle();
    expect(w.text('.m')).toContain('answer 1');
    expect(counts).toEqual([]);
    expect(badges).toBe(0);
    expect(w.frames('read')).toEqual([{ t: 'read', seq: 1 }]);

    w.handle.close();
    w.sockets[0]!.recv(bot(2));
    await settle();
    expect(counts).toEqual([1]);
    expect(w.text('.b')).toBe('1');
  });

  test('a quick reply chosen by keyboard leaves focus in the composer, on a phone too; a tap on a phone leaves its keyboard down', () => {
    const viewport = (width: number) =>
      (window as unknown as { happyDOM: { setViewport(v: { width: number; height: number }): void } }).happyDOM.setViewport({ width, height: 640 });
    try {
      for (const width of [1024, 320]) {
        viewport(width);
        const w = setup({ greeting });
        w.button('Returns').dispatchEvent(new MouseEvent('click', { bubbles: true, detail: 0 })); // Enter or Space on a button
        expect(calls(w.client, 'postback')).toHaveLength(1);
        expect(w.$$('.m .q button')).toEqual([]); // the buttons went with the answer
        expect(w.root.activeElement).toBe(w.$('.f textarea'));
        handle!.destroy();
      }
      const w = setup({ greeting });
      w.button('Returns').dispatchEvent(new MouseEvent('click', { bubbles: true, detail: 1 }));
      expect(calls(w.client, 'postback')).toHaveLength(1);
      expect(w.root.activeElement).not.toBe(w.$('.f textarea'));
    } finally {
      viewport(1024);
    }
  });

  test('`ready` fires once, in the task after mount; a listener added later is called at once', async () => {
    const w = setup({}, { open: false });
    const seen: string[] = [];
    w.handle.on('ready', () => seen.push('early'));
    expect(seen).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve));
    expect(seen).toEqual(['early']);
    w.handle.on('ready', () => seen.push('late'));
    expect(seen).toEqual(['early', 'late']);
    await new Promise((resolve) => setTimeout(resolve));
    expect(seen).toEqual(['early', 'late']);
  });

  test('a closed conversation says so once, in the status line, above "Start a new conversation"', () => {
    const closed = { kind: 'event' as const, id: 'e2', seq: 2, ts: T0, event: { type: 'closed' as const } };
    const w = setup({ closed: true, timeline: [msg('agent', 'Glad I could help'), closed] });
    expect(w.text('.p').split('This conversation has ended.')).toHaveLength(2);
    expect(w.$('.y')!.getAttribute('role')).toBe('status');
    expect(w.text('.y')).toBe('This conversation has ended.');
    w.button('Start a new conversation').click();
    expect(calls(w.client, 'restart')).toHaveLength(1);
  });

  test('with nobody online, several messages can be left, to the same email', () => {
    const w = setup({ online: false });
    const email = w.$<HTMLInputElement>('.o input')!;
    const text = w.$<HTMLTextAreaElement>('.o textarea')!;
    type(email, 'ana@example.com');
    type(text, 'Do you ship to Iceland?');
    w.button('Send message').click();
    expect(w.text('.o [role=status]')).toBe('Thanks! We will reply by email.');
    // The form stays, the email kept and the message box empty.
    expect([w.$<HTMLInputElement>('.o input')!.value, w.$<HTMLTextAreaElement>('.o textarea')!.value]).toEqual(['ana@example.com', '']);
    type(w.$<HTMLTextAreaElement>('.o textarea')!, 'And to Greenland?');
    w.button('Send message').click();
    expect(calls(w.client, 'leaveMessage')).toEqual([
      ['leaveMessage', 'ana@example.com', 'Do you ship to Iceland?'],
      ['leaveMessage', 'ana@example.com', 'And to Greenland?'],
    ]);
    expect(w.$$('.m .v .x').map((x) => x.textContent)).toEqual(['Do you ship to Iceland?', 'And to Greenland?']);
  });

  test('the widget root resets everything the page gives <parley-chat> to inherit, while the host stays the page’s to hide', () => {
    const w = setup();
    const rules = [...w.root.adoptedStyleSheets[0]!.cssRules].filter((r): r is CSSStyleRule => r instanceof CSSStyleRule);
    expect(w.$('.w')!.parentNode).toBe(w.root);
    expect(rules.find((r) => r.selectorText === '.w')!.style.getPropertyValue('all')).toBe('initial');
    expect(rules.filter((r) => r.selectorText.includes(':host') && r.style.getPropertyValue('all'))).toEqual([]);
  });

  test('the offset may set the side and the bottom apart, in px or any CSS length', () => {
    const w = setup({}, { theme: { offset: { x: 8, y: '5rem' } } });
    expect(['-x', '-y', ''].map((k) => w.host.style.getPropertyValue(`--parley-offset${k}`))).toEqual(['8px', '5rem', '']);
  });
});
