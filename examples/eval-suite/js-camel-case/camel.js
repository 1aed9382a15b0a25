// 'user-id' -> 'userId', 'max_retry_count' -> 'maxRetryCount'.
function camelCase(name) {
  const [first, ...rest] = name.split(/[-_]/);
  return first + rest.map((w) => w.slice(1).toUpperCase() + w.slice(1)).join('');
}

module.exports = { camelCase };
