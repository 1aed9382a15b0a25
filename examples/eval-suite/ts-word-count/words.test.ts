import { expect, test } from 'vitest';
import { wordCount } from './words';

test('single spaces', () => {
  expect(wordCount('one two three')).toBe(3);
});

test('runs of whitespace and empty text', () => {
  expect(wordCount('  one \t two\n')).toBe(2);
  expect(wordCount('')).toBe(0);
});
