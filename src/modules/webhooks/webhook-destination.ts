import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Where a webhook may be sent (SSRF defence). A destination is refused when its URL is not plain https,
 * or when ANY address its hostname resolves to is not a public unicast address: loopback, private,
 * link-local (cloud metadata at 169.254.169.254 and fd00:ec2::254), CGNAT, unspecified, multicast,
 * broadcast, documentation and the IPv6 forms that embed such an IPv4 address. The check runs when an
 * endpoint is created and again before every attempt, and the attempt connects to the address checked
 * (no second DNS lookup a rebinding server could answer differently).
 */

/** Longest destination URL accepted. */
export const MAX_URL_LENGTH = 2048;

const REFUSED = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // CGNAT (RFC 6598)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255 broadcast
] as const) {
  REFUSED.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local (includes fd00:ec2::254, the AWS metadata address over IPv6)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  REFUSED.addSubnet(network, prefix, 'ipv6');
}

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64 or 6to4), else null. */
function embeddedIpv4(address: string): string | null {
  const groups = expandIpv6(address);
  if (groups === null) return null;
  const v4 = (high: number, low: number) => `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  const zeros = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible, deprecated), 64:ff9b::a.b.c.d (NAT64).
  if (zeros(0, 5) && (groups[5] === 0xffff || groups[5] === 0)) return v4(groups[6] as number, groups[7] as number);
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zeros(2, 6)) return v4(groups[6] as number, groups[7] as number);
  // 2002:AABB:CCDD::/48 (6to4).
  if (groups[0] === 0x2002) return v4(groups[1] as number, groups[2] as number);
  return null;
}

/** The eight 16-bit groups of an IPv6 address (with an IPv4 tail allowed), or null if it is not one. */
function expandIpv6(address: string): number[] | null {
  if (isIP(address) !== 6) return null;
  let text = address.toLowerCase().replace(/%.*$/, '');
  const tail = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (tail) {
    const [a, b, c, d] = (tail[1] as string).split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const fill = rest === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array<string>(fill).fill('0'), ...right].map((g) => Number.parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/** Why an address may not receive webhooks, or null when it is a public unicast address. */
export function refusedAddress(address: string): string | null {
  const version = isIP(address);
  if (version === 0) return 'is not an IP address';
  if (version === 4) return REFUSED.check(address, 'ipv4') ? 'is a loopback, private, link-local or otherwise reserved address' : null;
  const embedded = embeddedIpv4(address);
  if (embedded !== null && refusedAddress(embedded) !== null) return 'embeds a loopback, private, link-local or otherwise reserved IPv4 address';
  return REFUSED.check(address.replace(/%.*$/, ''), 'ipv6') ? 'is a loopback, private, link-local or otherwise reserved address' : null;
}

export interface DestinationPolicy {
  /** WEBHOOK_ALLOW_PRIVATE: http:// and every address allowed (development, tests). */
  allowPrivate: boolean;
  /** DNS: every address of a hostname (tests may pass their own). */
  resolve?: (hostname: string) => Promise<Array<{ address: string; family: number }>>;
}

/** A refused destination: the message names what is wrong, for the 400 naming `url` (or an attempt's error). */
export class DestinationError extends Error {}

/** The URL as stored, or a DestinationError: https (http only when private is allowed), ≤ 2048, no credentials, no fragment. */
export function checkUrl(raw: string, policy: Pick<DestinationPolicy, 'allowPrivate'>): URL {
  if (raw.length > MAX_URL_LENGTH) throw new DestinationError(`must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DestinationError('is not an absolute URL');
  }
  const schemes = policy.allowPrivate ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) throw new DestinationError(policy.allowPrivate ? 'must be http or https' : 'must be https');
  if (url.username !== '' || url.password !== '') throw new DestinationError('must not carry credentials (user:password@)');
  if (url.hash !== '' || raw.includes('#')) throw new DestinationError('must not have a fragment');
  if (url.hostname === '') throw new DestinationError('has no host');
  return url;
}

/** The address to connect to for `url`, after refusing the destination if any of its addresses is refused. */
export async function resolveDestination(url: URL, policy: DestinationPolicy): Promise<{ address: string; family: number }> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(host) !== 0) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await (policy.resolve ?? ((name) => dnsLookup(name, { all: true, verbatim: true })))(host);
    } catch {
      throw new DestinationError(`host ${host} does not resolve`);
    }
    if (addresses.length === 0) throw new DestinationError(`host ${host} does not resolve`);
  }
  if (!policy.allowPrivate) {
    for (const { address } of addresses) {
      const why = refusedAddress(address);
      if (why !== null) throw new DestinationError(`resolves to ${address}, which ${why}`);
    }
  }
  return addresses[0] as { address: string; family: number };
}
