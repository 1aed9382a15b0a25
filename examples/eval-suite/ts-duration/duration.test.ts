import { expect, test } from 'vitest';
import { minutes } from './duration';

test('hours and minutes', () => {
  expect(minutes('1h30m')).toBe(90);
  expect(minutes('2h')).toBe(120);
});

test('minutes only', () => {
  expect(minutes('45m')).toBe(45);
});
