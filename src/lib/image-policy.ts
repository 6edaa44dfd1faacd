import { createHash } from 'node:crypto';
import type { ImageReference } from './image-reference.js';

/**
 * Where a deploy may pull its image from. A cluster pulls what a deploy names, from wherever it points:
 * so a reference is a request the data plane will make, and is fenced like one (no addresses inside
 * networks we or the customer run, no other account's images on our registry).
 */
export interface ImageSourcePolicy {
  /** Our registry's host[:port] (REGISTRY_SERVICE): on it, an account pulls from its own namespace only. */
  registryService: string;
  accountId: string;
}

/**
 * The account's namespace on our registry. Registry paths are lowercase, so a mixed-case account id also
 * gets a digest suffix: otherwise `user_Ab` and `user_aB` would share (and could push to) one namespace.
 */
export function accountRegistryNamespace(accountId: string): string {
  const lower = accountId.toLowerCase();
  return lower === accountId ? lower : `${lower}-${createHash('sha256').update(accountId).digest('hex').slice(0, 10)}`;
}

/**
 * Names no public registry can have: single-use and private top-level domains (RFC 6761, RFC 6762,
 * RFC 8375's home.arpa, and the ones operators use inside networks), where a name resolves, if at all,
 * to something inside a network.
 */
const PRIVATE_TLDS = new Set(['local', 'localhost', 'localdomain', 'internal', 'intranet', 'private', 'corp', 'home', 'lan', 'test', 'example', 'invalid', 'arpa', 'onion']);

/** A label no real top-level domain has: all digits, or hexadecimal (`0x7f`), as URL parsers read IPv4 hosts. */
const NUMERIC_LABEL = /^(?:\d+|0x[0-9a-f]*)$/i;

/**
 * Why `reference` may not be deployed for `policy.accountId`, or null. The registry is judged by its
 * name only (no DNS lookup: the cluster, not this server, resolves it): Docker Hub (no registry named),
 * our registry under the account's own namespace, or another registry by a public DNS name. Refused: IP
 * literals in any spelling (loopback, link-local such as the cloud metadata address, private ranges,
 * and the rest), single-label hosts and private or reserved names.
 */
export function imageSourceProblem(reference: ImageReference, policy: ImageSourcePolicy): string | null {
  const { registry } = reference;
  if (registry === null) return null;
  const lower = registry.toLowerCase();
  if (lower === policy.registryService.toLowerCase()) {
    const namespace = accountRegistryNamespace(policy.accountId);
    return reference.repository.startsWith(`${namespace}/`)
      ? null
      : `on ${policy.registryService} an account deploys only its own images: ${policy.registryService}/${namespace}/<name>`;
  }
  if (lower.startsWith('[')) return `registry "${registry}" is an IP address; name a registry by its public host name (e.g. ghcr.io)`;
  const host = lower.split(':', 1)[0] ?? '';
  const labels = host.split('.');
  const last = labels[labels.length - 1] ?? '';
  if (NUMERIC_LABEL.test(last)) return `registry "${registry}" is an IP address; name a registry by its public host name (e.g. ghcr.io)`;
  if (labels.length < 2) return `registry "${registry}" is not a public host name; name a registry by its public host name (e.g. ghcr.io)`;
  if (PRIVATE_TLDS.has(last)) return `registry "${registry}" is a private or reserved name; name a registry by its public host name (e.g. ghcr.io)`;
  return null;
}
