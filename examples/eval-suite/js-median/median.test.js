const test = require('node:test');
const assert = require('node:assert');
const { median } = require('./median.js');

test('numbers sort as numbers', () => {
  assert.strictEqual(median([10, 9, 100]), 10);
});

test('even count takes the mean', () => {
  assert.strictEqual(median([1, 3, 20, 4]), 3.5);
});
