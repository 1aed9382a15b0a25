'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { toFahrenheit, warmest } = require('../src/temperature');

test('water freezes at 32 °F', () => {
  assert.equal(toFahrenheit(0), 32);
});

test('water boils at 212 °F', () => {
  assert.equal(toFahrenheit(100), 212);
});

test('the warmest reading may come last', () => {
  assert.equal(warmest([3, 9, 4, 12]), 12);
});

test('no readings, no warmest', () => {
  assert.equal(warmest([]), undefined);
});
