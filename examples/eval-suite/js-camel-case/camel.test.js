const test = require('node:test');
const assert = require('node:assert');
const { camelCase } = require('./camel.js');

test('dashes', () => {
  assert.strictEqual(camelCase('user-id'), 'userId');
});

test('underscores', () => {
  assert.strictEqual(camelCase('max_retry_count'), 'maxRetryCount');
});
