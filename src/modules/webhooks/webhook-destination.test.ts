import { describe, expect, it } from 'vitest';
import { checkUrl, DestinationError, refusedAddress, resolveDestination } from './webhook-destination.js';

describe('refusedAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '100.127.255.254',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    'fe80::1',
    'fc00::1',
    'fd00:ec2::254',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '::127.0.0.1',
    '64:ff9b::a00:1',
    '2002:0a00:0001::1',
  ])('refuses %s', (address) => {
    expect(refusedAddress(address)).not.toBeNull();
  });

  it.each(['8.8.8.8', '1.1.1.1', '100.63.255.255', '100.128.0.1', '172.32.0.1', '169.253.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2002:0808:0808::1'])(
    'accepts %s',
    (address) => {
      expect(refusedAddress(address)).toBeNull();
    },
  );

  it('says a non-address is not one', () => {
    expect(refusedAddress('example.com')).toBe('is not an IP address');
  });
});

describe('checkUrl', () => {
  const strict = { allowPrivate: false };
  it.each([
    ['http://example.com/hook', 'must be https'],
    ['ftp://example.com/hook', 'must be https'],
    ['https://user:pw@example.com/hook', 'credentials'],
    ['https://example.com/hook#frag', 'fragment'],
    ['not a url', 'absolute URL'],
    [`https://example.com/${'a'.repeat(2048)}`, 'at most 2048'],
  ])('refuses %s', (raw, message) => {
    expect(() => checkUrl(raw, strict)).toThrow(message);
  });

  it('allows http only when private destinations are allowed', () => {
    expect(checkUrl('http://127.0.0.1:8080/x', { allowPrivate: true }).port).toBe('8080');
    expect(checkUrl('https://example.com/x?y=1', strict).href).toBe('https://example.com/x?y=1');
  });
});

describe('resolveDestination', () => {
  const resolvingTo = (...addresses: string[]) => ({
    allowPrivate: false,
    resolve: async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
  });

  it('refuses a hostname when any of its addresses is refused', async () => {
    await expect(resolveDestination(new URL('https://mixed.example/'), resolvingTo('8.8.8.8', '10.0.0.1'))).rejects.toThrow(DestinationError);
    await expect(resolveDestination(new URL('https://[::1]/'), { allowPrivate: false })).rejects.toThrow('::1');
  });

  it('returns the first address checked, to connect to', async () => {
    await expect(resolveDestination(new URL('https://public.example/'), resolvingTo('8.8.8.8', '2606:4700:4700::1111'))).resolves.toEqual({ address: '8.8.8.8', family: 4 });
  });

  it('lets private addresses through when allowed', async () => {
    await expect(resolveDestination(new URL('http://127.0.0.1:9/'), { allowPrivate: true })).resolves.toEqual({ address: '127.0.0.1', family: 4 });
  });
});
