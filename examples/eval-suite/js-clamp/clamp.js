// `value` kept within [low, high].
function clamp(value, low, high) {
  return Math.max(high, Math.min(low, value));
}

module.exports = { clamp };
