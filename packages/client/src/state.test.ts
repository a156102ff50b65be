import { expect, test } from 'vitest';
import { createState, type StateChange } from './state.js';

test('starts idle and reports each transition once with from and to', () => {
  const seen: StateChange[] = [];
  const state = createState((c) => seen.push(c));
  expect(state.get()).toBe('idle');
  expect(state.set('connecting')).toBe(true);
  expect(state.set('open')).toBe(true);
  expect(seen).toEqual([
    { from: 'idle', to: 'connecting' },
    { from: 'connecting', to: 'open' },
  ]);
});

test('setting the current state again does nothing', () => {
  const seen: StateChange[] = [];
  const state = createState((c) => seen.push(c));
  state.set('reconnecting');
  expect(state.set('reconnecting')).toBe(false);
  expect(seen).toHaveLength(1);
  expect(state.get()).toBe('reconnecting');
});
