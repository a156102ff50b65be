import type { ClientFrame } from '@parley/protocol';
import { expect, test } from 'vitest';
import { createRequests } from './requests.js';

/** Requests over a socket that records what it sends, open or not. */
function setup(open = true) {
  const sent: ClientFrame[] = [];
  const requests = createRequests((f) => open && (sent.push(f), true));
  return { requests, sent };
}

test('each request goes with a fresh id, and the answer with that id settles it alone', async () => {
  const { requests, sent } = setup();
  const a = requests.ask({ t: 'history' }, 'NOT_READY');
  const b = requests.ask({ t: 'history' }, 'NOT_READY');
  const [fa, fb] = sent as Extract<ClientFrame, { t: 'history' }>[];
  expect(fa!.id).not.toBe(fb!.id);
  expect(requests.answer({ t: 'conversations', id: fb!.id, items: [] })).toBe(true);
  await expect(b).resolves.toEqual({ t: 'conversations', id: fb!.id, items: [] });
  expect(requests.answer({ t: 'conversations', id: fb!.id, items: [] })).toBe(false); // settled already
  expect(requests.answer({ t: 'error', id: fa!.id, code: 'NOT_FOUND', message: 'No such conversation.' })).toBe(true);
  await expect(a).rejects.toEqual({ code: 'NOT_FOUND', message: 'No such conversation.' });
  expect(requests.answer({ t: 'error', code: 'RATE_LIMITED', message: 'Slow down.' })).toBe(false); // names no request
});

test('a request that cannot be sent is refused at once with its code; a dropped socket refuses every one waiting', async () => {
  await expect(setup(false).requests.ask({ t: 'upload', name: 'a.png', size: 1, mime: 'image/png' }, 'UPLOAD_UNAVAILABLE')).rejects.toEqual({
    code: 'UPLOAD_UNAVAILABLE',
    message: 'Not connected.',
  });
  const { requests } = setup();
  const upload = requests.ask({ t: 'upload', name: 'a.png', size: 1, mime: 'image/png' }, 'UPLOAD_UNAVAILABLE');
  const past = requests.ask({ t: 'history' }, 'NOT_READY');
  requests.end();
  await expect(upload).rejects.toMatchObject({ code: 'UPLOAD_UNAVAILABLE' });
  await expect(past).rejects.toMatchObject({ code: 'NOT_READY' });
});
