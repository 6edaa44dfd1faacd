/**
 * OCI image references, as the distribution spec writes them:
 * `[registry[:port]/]repository[:tag][@sha256:<64 hex>]`.
 *
 * Stricter than `docker pull` on purpose: a deploy must name exactly what runs, so a tag or a digest is
 * required (no implicit `latest`), and the only digest accepted is sha256, which every registry serves.
 */
export interface ImageReference {
  /** host[:port] when the reference names one; null means the registry the cluster defaults to. */
  registry: string | null;
  repository: string;
  tag: string | null;
  digest: string | null;
}

export type ImageReferenceResult = { ok: true; reference: ImageReference } | { ok: false; problem: string };

/** Most registries and clients refuse longer names; an image reference is also stored and logged. */
export const MAX_IMAGE_REFERENCE_LENGTH = 255;

// distribution/reference grammar: path-component := alpha-numeric [separator alpha-numeric]*,
// separator := [_.] | __ | [-]*, and components are lowercase.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const DOMAIN_COMPONENT = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
const IPV6_HOST = /^\[[0-9A-Fa-f:.]+\]$/;
// Printable ASCII only: no whitespace, control characters or look-alike Unicode in something a cluster will pull.
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

const fail = (problem: string): ImageReferenceResult => ({ ok: false, problem });

/**
 * The first path component names a registry when it could not be a repository name: it has a dot or
 * a port, or it is `localhost` (the same rule Docker uses, minus its "has uppercase" case, which here
 * is reported as a repository that must be lowercase).
 */
function looksLikeRegistry(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

function registryProblem(registry: string): string | null {
  let host = registry;
  let port: string | null = null;
  if (registry.startsWith('[')) {
    const close = registry.indexOf(']');
    host = close === -1 ? registry : registry.slice(0, close + 1);
    const rest = close === -1 ? '' : registry.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return `registry "${registry}" is not a valid host[:port]`;
      port = rest.slice(1);
    }
    if (!IPV6_HOST.test(host)) return `registry "${registry}" is not a valid host[:port]`;
  } else {
    const colon = registry.indexOf(':');
    if (colon !== -1) {
      host = registry.slice(0, colon);
      port = registry.slice(colon + 1);
    }
    if (host === '' || !host.split('.').every((part) => DOMAIN_COMPONENT.test(part))) {
      return `registry "${registry}" is not a valid host[:port]`;
    }
  }
  if (port !== null && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
    return `registry port "${port}" must be a number from 1 to 65535`;
  }
  return null;
}

export function parseImageReference(input: string): ImageReferenceResult {
  if (input.length === 0) return fail('must not be empty');
  if (input.length > MAX_IMAGE_REFERENCE_LENGTH) return fail(`must be at most ${MAX_IMAGE_REFERENCE_LENGTH} characters`);
  if (!PRINTABLE_ASCII.test(input)) return fail('must be printable ASCII without spaces');

  let rest = input;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return fail('digest must be "sha256:" followed by 64 lowercase hexadecimal characters');
  }

  let tag: string | null = null;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) {
      return fail('tag must be 1 to 128 letters, digits, "_", "." or "-", and must not start with "." or "-"');
    }
  }

  const components = rest.split('/');
  let registry: string | null = null;
  if (components.length > 1 && looksLikeRegistry(components[0] ?? '')) {
    registry = components.shift() ?? null;
    const problem = registry === null ? null : registryProblem(registry);
    if (problem) return fail(problem);
  }
  if (components.some((component) => component === '')) return fail('repository has an empty path component (a leading, trailing or doubled "/")');
  for (const component of components) {
    if (component.toLowerCase() === component && PATH_COMPONENT.test(component)) continue;
    if (component.toLowerCase() !== component) return fail(`repository must be lowercase ("${component}")`);
    return fail(`repository component "${component}" must be lowercase letters and digits, separated by ".", "_", "__" or "-"`);
  }
  if (tag === null && digest === null) {
    return fail('needs a tag (e.g. ":1.4.2") or a digest ("@sha256:<64 hex>"); "latest" is never assumed');
  }
  return { ok: true, reference: { registry, repository: components.join('/'), tag, digest } };
}
