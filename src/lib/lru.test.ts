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

describe('LruMap (second chance)', () => {
  it('keeps every entry read since it last came round, drops the oldest of the others, never the newcomer', () => {
    const dropped: number[] = [];
    const lru = new LruMap<number, number>(4, (key) => dropped.push(key));
    for (let i = 1; i <= 4; i++) lru.set(i, i);
    for (const key of [1, 2, 3, 4]) lru.get(key);
    lru.set(5, 5); // all four were read: each loses its mark once, then the oldest (1) goes
    expect(dropped).toEqual([1]);
    lru.get(3);
    lru.set(6, 6); // 2 is unmarked now and oldest; 5 (the newcomer before) is not dropped ahead of it
    lru.set(7, 7); // 3 was read again: passed over; 4 goes
    expect(dropped).toEqual([1, 2, 4]);
    expect([3, 5, 6, 7].map((key) => lru.get(key))).toEqual([3, 5, 6, 7]);
    expect(lru.size).toBe(4);
  });

  it('a hot entry survives any number of one-time entries passing through', () => {
    const lru = new LruMap<string, number>(100);
    lru.set('hot', 1);
    for (let i = 0; i < 10_000; i++) {
      expect(lru.get('hot')).toBe(1);
      lru.set(`once-${i}`, i);
    }
    expect(lru.size).toBe(100);
  });
});
