const test = require('node:test');
const assert = require('node:assert');
const { clamp } = require('./clamp.js');

test('inside the range', () => {
  assert.strictEqual(clamp(5, 0, 10), 5);
});

test('outside the range', () => {
  assert.strictEqual(clamp(-3, 0, 10), 0);
  assert.strictEqual(clamp(42, 0, 10), 10);
});
