import { BlockList, isIP } from 'node:net';

/** At most this many entries per key (CONTRACT §7). */
export const MAX_ALLOWED_IPS = 50;

/** Why a list or one of its entries is refused, for the 400 that names it (`index`: the entry, if one). */
export class AllowlistEntryError extends Error {
  constructor(
    message: string,
    readonly index: number | null = null,
  ) {
    super(message);
  }
}

export interface IpAllowlist {
  /** The entries as stored and shown: `address/prefix`, the network address canonical as written. */
  readonly cidrs: readonly string[];
  /** Whether a client address (as Node reports it: IPv4, IPv6 or IPv4-mapped IPv6) is inside. */
  allows(address: string): boolean;
}

/** Client addresses whose answer each list keeps (the list itself never changes: a PATCH builds a new one). */
const ANSWERS_KEPT = 256;

const MAPPED_IPV4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * One entry: an address (a single host) or `address/prefix`, IPv4 or IPv6. Returned as `address/prefix`,
 * lower-cased, with an IPv4-mapped IPv6 entry written as the IPv4 it stands for.
 */
export function parseCidr(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6'; text: string } {
  const trimmed = entry.trim().toLowerCase();
  const slash = trimmed.indexOf('/');
  let address = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const prefixText = slash < 0 ? null : trimmed.slice(slash + 1);
  const mapped = MAPPED_IPV4.exec(address);
  let mappedOffset = 0;
  if (mapped && isIP(mapped[1] as string) === 4) {
    address = mapped[1] as string;
    mappedOffset = 96;
  }
  const version = isIP(address);
  if (version === 0) throw new AllowlistEntryError(`"${entry.slice(0, 60)}" is not an IP address or CIDR`);
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (prefixText !== null) {
    if (!/^\d{1,3}$/.test(prefixText)) throw new AllowlistEntryError(`"${entry.slice(0, 60)}" has no valid prefix length`);
    prefix = Number(prefixText) - mappedOffset;
    if (prefix < 0 || prefix > max) throw new AllowlistEntryError(`"${entry.slice(0, 60)}": the prefix length must be 0-${max + mappedOffset}`);
  }
  const family = version === 4 ? 'ipv4' : 'ipv6';
  return { address, prefix, family, text: `${address}/${prefix}` };
}

/** Parses a key's list once (when the key is loaded), for a check per request that costs a lookup. */
export function ipAllowlist(entries: readonly string[]): IpAllowlist {
  if (entries.length === 0 || entries.length > MAX_ALLOWED_IPS) throw new AllowlistEntryError(`give 1 to ${MAX_ALLOWED_IPS} entries, or null for any address`);
  const list = new BlockList();
  const cidrs: string[] = [];
  for (const [index, entry] of entries.entries()) {
    let cidr;
    try {
      cidr = parseCidr(entry);
    } catch (error) {
      throw error instanceof AllowlistEntryError ? new AllowlistEntryError(error.message, index) : error;
    }
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
    if (!cidrs.includes(cidr.text)) cidrs.push(cidr.text);
  }
  const check = (address: string): boolean => {
    const mapped = MAPPED_IPV4.exec(address);
    if (mapped) return list.check(mapped[1] as string, 'ipv4') || list.check(address, 'ipv6');
    const version = isIP(address);
    return version !== 0 && list.check(address, version === 4 ? 'ipv4' : 'ipv6');
  };
  // BlockList.check costs ~1.7 µs with ten entries (a call into C++ that parses the address each time);
  // a key is used from a handful of addresses, so their answers are kept (bounded, forgotten when full).
  const answers = new Map<string, boolean>();
  return Object.freeze({
    cidrs: Object.freeze(cidrs),
    allows(address: string): boolean {
      let answer = answers.get(address);
      if (answer === undefined) {
        answer = check(address);
        if (answers.size >= ANSWERS_KEPT) answers.clear();
        answers.set(address, answer);
      }
      return answer;
    },
  });
}
