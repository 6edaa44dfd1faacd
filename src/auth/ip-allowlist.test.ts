import { describe, expect, it } from 'vitest';
import { AllowlistEntryError, ipAllowlist, MAX_ALLOWED_IPS, parseCidr } from './ip-allowlist.js';

describe('ipAllowlist', () => {
  it('matches IPv4 and IPv6 networks and single hosts', () => {
    const list = ipAllowlist(['203.0.113.0/24', '198.51.100.7', '2001:db8::/32']);
    expect(list.cidrs).toEqual(['203.0.113.0/24', '198.51.100.7/32', '2001:db8::/32']);
    expect(list.allows('203.0.113.200')).toBe(true);
    expect(list.allows('203.0.114.1')).toBe(false);
    expect(list.allows('198.51.100.7')).toBe(true);
    expect(list.allows('198.51.100.8')).toBe(false);
    expect(list.allows('2001:db8:1::5')).toBe(true);
    expect(list.allows('2001:db9::1')).toBe(false);
  });

  it('treats an IPv4-mapped IPv6 client (a dual-stack socket) as its IPv4 address, and mapped entries as IPv4', () => {
    expect(ipAllowlist(['10.1.0.0/16']).allows('::ffff:10.1.2.3')).toBe(true);
    expect(ipAllowlist(['10.1.0.0/16']).allows('::FFFF:10.2.0.1')).toBe(false);
    const mapped = ipAllowlist(['::ffff:192.0.2.0/120']);
    expect(mapped.cidrs).toEqual(['192.0.2.0/24']);
    expect(mapped.allows('192.0.2.9')).toBe(true);
    expect(mapped.allows('::ffff:192.0.2.9')).toBe(true);
  });

  it('0.0.0.0/0 and ::/0 are everything of their family only', () => {
    expect(ipAllowlist(['0.0.0.0/0']).allows('8.8.8.8')).toBe(true);
    expect(ipAllowlist(['0.0.0.0/0']).allows('2001:db8::1')).toBe(false);
    expect(ipAllowlist(['::/0']).allows('2001:db8::1')).toBe(true);
  });

  it('never allows what is not an address', () => {
    const list = ipAllowlist(['0.0.0.0/0', '::/0']);
    for (const address of ['', 'localhost', '1.2.3', 'unknown']) expect(list.allows(address)).toBe(false);
  });

  it.each(['10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/', '10.0.0.0/8/8', 'example.com', '10.0.0.256', '2001:db8::/129', '::ffff:10.0.0.0/95', '10.0.0.0/08x', ''])(
    'refuses %j',
    (entry) => {
      expect(() => parseCidr(entry)).toThrow(AllowlistEntryError);
    },
  );

  it(`takes 1 to ${MAX_ALLOWED_IPS} entries; duplicates are kept once`, () => {
    expect(() => ipAllowlist([])).toThrow(AllowlistEntryError);
    expect(() => ipAllowlist(Array.from({ length: MAX_ALLOWED_IPS + 1 }, (_, i) => `10.0.${i}.0/24`))).toThrow(AllowlistEntryError);
    expect(ipAllowlist(['10.0.0.1', '10.0.0.1/32']).cidrs).toEqual(['10.0.0.1/32']);
  });

  it('answers the same for an address seen before, and stays right past the answers it keeps', () => {
    const list = ipAllowlist(['10.0.0.0/24']);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 600; i++) {
        expect(list.allows(`10.0.${i % 2}.${i % 256}`)).toBe(i % 2 === 0);
      }
    }
  });
});
