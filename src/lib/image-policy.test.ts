import { describe, expect, it } from 'vitest';
import { accountRegistryNamespace, imageSourceProblem } from './image-policy.js';
import { parseImageReference } from './image-reference.js';

const policy = { registryService: 'registry.skaledata.local', accountId: 'user_abc123' };

function problemOf(image: string): string | null {
  const parsed = parseImageReference(image);
  if (!parsed.ok) throw new Error(`not a reference: ${image}: ${parsed.problem}`);
  return imageSourceProblem(parsed.reference, policy);
}

describe('imageSourceProblem', () => {
  it.each([
    'nginx:1.27',
    'library/nginx:1.27',
    'docker.io/library/nginx:1.27',
    'ghcr.io/acme/etl:2.0.1',
    'quay.io/prometheus/node-exporter:v1.8.0',
    'europe-docker.pkg.dev/proj/repo/img@sha256:' + 'a'.repeat(64),
    '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1',
    'registry.example.com:5443/team/app:1',
    'registry.skaledata.local/user_abc123/web:1',
    'registry.skaledata.local/user_abc123/nested/path:1',
    'registry.skaledata.local:5000/user_abc123/web:1',
    'registry.xn--p1ai/app:1',
  ])('accepts %s', (image) => {
    expect(problemOf(image)).toBeNull();
  });

  it.each([
    // another account's namespace, or no namespace, on our registry
    ['registry.skaledata.local/user_other/web:1', 'its own images'],
    ['registry.skaledata.local/web:1', 'its own images'],
    ['registry.skaledata.local/user_abc1234/web:1', 'its own images'],
    ['REGISTRY.skaledata.local/user_other/web:1', 'its own images'],
    // our registry on another port is still our registry, and its namespace rule holds
    ['registry.skaledata.local:5000/user_other/web:1', 'its own images'],
    ['registry.skaledata.local:443/user_other/web:1', 'its own images'],
    // names that resolve to loopback or to the address they spell
    ['127.0.0.1.nip.io/app:1', 'IP address'],
    ['169-254-169-254.sslip.io/app:1', 'IP address'],
    ['app.10.0.0.5.example.com/app:1', 'IP address'],
    ['localtest.me/app:1', 'private or reserved'],
    ['registry.lvh.me/app:1', 'private or reserved'],
    // suffixes no public name has (node search domains may resolve them to internal hosts)
    ['reg.kube-system.svc/app:1', 'private or reserved'],
    ['host.us-central1-a/app:1', 'private or reserved'],
    // IP literals in any spelling
    ['127.0.0.1/app:1', 'IP address'],
    ['127.0.0.1:5000/app:1', 'IP address'],
    ['169.254.169.254/latest:1', 'IP address'],
    ['10.0.0.5:5000/app:1', 'IP address'],
    ['192.168.1.10/app:1', 'IP address'],
    ['0x7f.1/app:1', 'IP address'],
    ['[::1]:5000/app:1', 'IP address'],
    ['[fd00::1]/app:1', 'IP address'],
    ['[::ffff:169.254.169.254]/app:1', 'IP address'],
    // single labels and private names
    ['localhost/app:1', 'not a public host name'],
    ['localhost:5000/app:1', 'not a public host name'],
    ['registry:5000/app:1', 'not a public host name'],
    ['metadata.google.internal/computemetadata:1', 'private or reserved'],
    ['kube-dns.kube-system.svc.cluster.local/app:1', 'private or reserved'],
    ['evil.localhost/app:1', 'private or reserved'],
    ['nas.home.arpa/app:1', 'private or reserved'],
    ['registry.corp/app:1', 'private or reserved'],
  ])('refuses %s', (image, words) => {
    expect(problemOf(image)).toContain(words);
  });

  it('names the account namespace a mixed-case account id gets (lowercase plus a digest)', () => {
    const namespace = accountRegistryNamespace('org_2AbC');
    expect(namespace).toMatch(/^org_2abc-[0-9a-f]{10}$/);
    expect(imageSourceProblem({ registry: 'registry.skaledata.local', repository: `${namespace}/web`, tag: '1', digest: null }, { ...policy, accountId: 'org_2AbC' })).toBeNull();
    // The lowercase twin's namespace is another account's.
    expect(imageSourceProblem({ registry: 'registry.skaledata.local', repository: 'org_2abc/web', tag: '1', digest: null }, { ...policy, accountId: 'org_2AbC' })).toContain('its own images');
  });
});
