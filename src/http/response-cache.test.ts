import { describe, expect, it } from 'vitest';
import { listKey } from './response-cache.js';

describe('listKey', () => {
  const base = { limit: 50, status: 'running', cloud_id: 'cld_1' };

  it('is the same for the same query whatever order its parameters came in', () => {
    expect(listKey('/clusters', 'user_1', { cloud_id: 'cld_1', limit: 50, status: 'running' })).toBe(listKey('/clusters', 'user_1', base));
  });

  it('differs when any parameter differs, is added or is left out, including one no route had before', () => {
    const keys = new Set([
      listKey('/clusters', 'user_1', base),
      listKey('/clusters', 'user_1', { ...base, status: 'failed' }),
      listKey('/clusters', 'user_1', { ...base, limit: 1 }),
      listKey('/clusters', 'user_1', { ...base, cursor: 'Y2xzXzE' }),
      listKey('/clusters', 'user_1', { limit: 50, status: 'running' }),
      // A filter a later version adds to the schema is in the key with no change here.
      listKey('/clusters', 'user_1', { ...base, region: 'eu-west-1' }),
      listKey('/clusters', 'user_1', { ...base, region: 'us-east-1' }),
      // Values of other types, and values that would collide if joined as text.
      listKey('/clusters', 'user_1', { ...base, include_deleted: true }),
      listKey('/clusters', 'user_1', { ...base, include_deleted: 'true' }),
      listKey('/clusters', 'user_1', { limit: 50, status: 'running","cloud_id' }),
    ]);
    expect(keys.size).toBe(10);
  });

  it('differs between routes and between accounts', () => {
    const keys = new Set([listKey('/clusters', 'user_1', base), listKey('/clouds', 'user_1', base), listKey('/clusters', 'org_1', base)]);
    expect(keys.size).toBe(3);
  });
});
