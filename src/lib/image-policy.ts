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
  /**
   * For a key limited to some resources (CONTRACT §7): the one app whose repository on our registry it may
   * deploy from (the app's own), so it cannot run the image of an app its fence hides.
   */
  ownApp?: string | undefined;
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
const PRIVATE_TLDS = new Set([
  'local', 'localhost', 'localdomain', 'internal', 'intranet', 'private', 'corp', 'home', 'lan', 'test', 'example', 'invalid', 'arpa', 'onion',
  // inside clusters and service meshes (Kubernetes `svc`/`cluster.local`, Consul, Docker)
  'svc', 'cluster', 'consul', 'docker',
]);

/** A label no real top-level domain has: all digits, or hexadecimal (`0x7f`), as URL parsers read IPv4 hosts. */
const NUMERIC_LABEL = /^(?:\d+|0x[0-9a-f]*)$/i;
/** Real top-level domains are letters (or punycode, `xn--…`). */
const TOP_LEVEL_DOMAIN = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;
/** An IPv4 address written into a name (`10.0.0.1.nip.io`, `10-0-0-1.sslip.io`), as wildcard DNS services resolve it. */
const EMBEDDED_IPV4 = /(?:^|[.-])\d{1,3}[.-]\d{1,3}[.-]\d{1,3}[.-]\d{1,3}(?:[.-]|$)/;
/** Public names that resolve to loopback or to whatever address they spell (wildcard DNS services). */
const LOOPBACK_DOMAINS = ['nip.io', 'sslip.io', 'xip.io', 'traefik.me', 'localtest.me', 'lvh.me', 'vcap.me', 'lacolhost.com', 'fbi.com', 'yoogle.com', 'localhost.run'];

/**
 * Why `reference` may not be deployed for `policy.accountId`, or null. The registry is judged by its
 * name only (no DNS lookup: the cluster, not this server, resolves it): Docker Hub (no registry named),
 * our registry (on any port) under the account's own namespace, or another registry by a public DNS name.
 * Refused: IP literals in any spelling (loopback, link-local such as the cloud metadata address, private
 * ranges, and the rest) or spelled into a name, single-label hosts, private or reserved names, names
 * under a top-level domain that is not letters, and wildcard DNS services that resolve to loopback or to
 * any address. A name can still resolve to a private address: the cluster's egress policy is the backstop.
 */
const hostOf = (registry: string): string => registry.split(':', 1)[0] ?? '';

export function imageSourceProblem(reference: ImageReference, policy: ImageSourcePolicy): string | null {
  const { registry } = reference;
  if (registry === null) return null;
  const lower = registry.toLowerCase();
  if (lower.startsWith('[')) return `registry "${registry}" is an IP address; name a registry by its public host name (e.g. ghcr.io)`;
  const host = hostOf(lower);
  // Our registry on any port is our registry: the namespace rule cannot be stepped around with `:443`.
  if (host === hostOf(policy.registryService.toLowerCase())) {
    const namespace = accountRegistryNamespace(policy.accountId);
    if (!reference.repository.startsWith(`${namespace}/`)) return `on ${policy.registryService} an account deploys only its own images: ${policy.registryService}/${namespace}/<name>`;
    const own = policy.ownApp === undefined ? null : `${namespace}/${policy.ownApp.toLowerCase()}`;
    return own === null || reference.repository === own ? null : `this API key is limited to some resources: on ${policy.registryService} it deploys only this app's own images, ${policy.registryService}/${own}`;
  }
  const labels = host.split('.');
  const last = labels[labels.length - 1] ?? '';
  if (NUMERIC_LABEL.test(last) || EMBEDDED_IPV4.test(host)) return `registry "${registry}" is an IP address; name a registry by its public host name (e.g. ghcr.io)`;
  if (labels.length < 2) return `registry "${registry}" is not a public host name; name a registry by its public host name (e.g. ghcr.io)`;
  if (PRIVATE_TLDS.has(last) || !TOP_LEVEL_DOMAIN.test(last) || LOOPBACK_DOMAINS.some((domain) => host === domain || host.endsWith(`.${domain}`))) {
    return `registry "${registry}" is a private or reserved name; name a registry by its public host name (e.g. ghcr.io)`;
  }
  return null;
}
