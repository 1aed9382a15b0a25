const test = require('node:test');
const assert = require('node:assert');
const { chunk } = require('./chunk.js');

test('even split', () => {
  assert.deepStrictEqual(chunk([1, 2, 3, 4], 2), [[1, 2], [3, 4]]);
});

test('short last chunk kept', () => {
  assert.deepStrictEqual(chunk([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
});
