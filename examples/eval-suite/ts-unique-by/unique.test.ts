import { expect, test } from 'vitest';
import { uniqueBy } from './unique';

test('the first of each key wins', () => {
  const users = [{ id: 'a', n: 1 }, { id: 'b', n: 2 }, { id: 'a', n: 3 }];
  expect(uniqueBy(users, (u) => u.id)).toEqual([{ id: 'a', n: 1 }, { id: 'b', n: 2 }]);
});
