import { describe, expect, it } from 'vitest';
import { LruMap } from './lru.js';

describe('LruMap', () => {
  it('drops the least recently used entry when full, and reports it', () => {
    const dropped: string[] = [];
    const lru = new LruMap<string, number>(2, (key) => dropped.push(key));
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1); // a is now the most recent
    lru.set('c', 3);
    expect(dropped).toEqual(['b']);
    expect(lru.get('b')).toBeUndefined();
    expect([lru.get('a'), lru.get('c'), lru.size]).toEqual([1, 3, 2]);
  });

  it('replacing a value does not grow it; delete and clear do not report drops', () => {
    const dropped: string[] = [];
    const lru = new LruMap<string, number>(2, (key) => dropped.push(key));
    lru.set('a', 1);
    lru.set('a', 2);
    expect(lru.size).toBe(1);
    expect(lru.delete('a')).toBe(2);
    lru.set('b', 1);
    lru.clear();
    expect([lru.size, dropped]).toEqual([0, []]);
  });

  it('capacity 0 stores nothing; a negative or fractional capacity is refused', () => {
    const off = new LruMap<string, number>(0);
    off.set('a', 1);
    expect([off.get('a'), off.size]).toEqual([undefined, 0]);
    expect(() => new LruMap(-1)).toThrow(RangeError);
    expect(() => new LruMap(1.5)).toThrow(RangeError);
  });
});
