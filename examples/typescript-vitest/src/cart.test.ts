import { describe, expect, test } from 'vitest';
import { grossCents, netCents, type Line } from './cart';

const pens: Line = { name: 'pen', unitCents: 150, quantity: 2 };
const book: Line = { name: 'book', unitCents: 1000, quantity: 1 };

describe('netCents', () => {
  test('counts every unit', () => {
    expect(netCents([pens, book])).toBe(1300);
  });

  test('an empty cart costs nothing', () => {
    expect(netCents([])).toBe(0);
  });
});

describe('grossCents', () => {
  test('adds the German VAT', () => {
    expect(grossCents([book], 'DE')).toBe(1190);
  });

  test('falls back to the default rate', () => {
    expect(grossCents([book], 'US')).toBe(1200);
  });
});
