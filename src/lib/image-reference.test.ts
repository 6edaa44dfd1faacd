import { describe, expect, it } from 'vitest';
import { MAX_IMAGE_REFERENCE_LENGTH, parseImageReference, type ImageReference } from './image-reference.js';

const SHA = 'sha256:' + 'a1'.repeat(32);

const GOOD: Array<[string, ImageReference]> = [
  ['nginx:1.25', { registry: null, repository: 'nginx', tag: '1.25', digest: null }],
  ['nginx:latest', { registry: null, repository: 'nginx', tag: 'latest', digest: null }],
  ['team/etl:2024.06.01', { registry: null, repository: 'team/etl', tag: '2024.06.01', digest: null }],
  ['registry.example.com/team/etl:v1.4.2', { registry: 'registry.example.com', repository: 'team/etl', tag: 'v1.4.2', digest: null }],
  ['registry.example.com:5000/team/etl:v1', { registry: 'registry.example.com:5000', repository: 'team/etl', tag: 'v1', digest: null }],
  ['localhost/etl:dev', { registry: 'localhost', repository: 'etl', tag: 'dev', digest: null }],
  ['localhost:5000/etl:dev', { registry: 'localhost:5000', repository: 'etl', tag: 'dev', digest: null }],
  ['[::1]:5000/etl:dev', { registry: '[::1]:5000', repository: 'etl', tag: 'dev', digest: null }],
  ['Registry.Example.COM/etl:1', { registry: 'Registry.Example.COM', repository: 'etl', tag: '1', digest: null }],
  [`ghcr.io/org/app@${SHA}`, { registry: 'ghcr.io', repository: 'org/app', tag: null, digest: SHA }],
  [`ghcr.io/org/app:1.0@${SHA}`, { registry: 'ghcr.io', repository: 'org/app', tag: '1.0', digest: SHA }],
  ['a/b/c/d:_x', { registry: null, repository: 'a/b/c/d', tag: '_x', digest: null }],
  ['team/my_repo.name__x--y/app-1:Tag_With.Caps-1', { registry: null, repository: 'team/my_repo.name__x--y/app-1', tag: 'Tag_With.Caps-1', digest: null }],
  [`r.io/x:${'t'.repeat(128)}`, { registry: 'r.io', repository: 'x', tag: 't'.repeat(128), digest: null }],
];

const BAD: Array<[string, RegExp]> = [
  ['', /must not be empty/],
  ['nginx', /needs a tag .* or a digest/],
  ['registry.example.com/team/etl', /"latest" is never assumed/],
  ['Nginx:1', /repository must be lowercase \("Nginx"\)/],
  ['team/ETL:1', /repository must be lowercase \("ETL"\)/],
  ['team/etl:', /tag must be 1 to 128/],
  ['team/etl:-dev', /tag must be 1 to 128/],
  ['team/etl:.dev', /tag must be 1 to 128/],
  [`team/etl:${'t'.repeat(129)}`, /tag must be 1 to 128/],
  ['team/etl:a+b', /tag must be 1 to 128/],
  ['team/etl@sha256:abc', /digest must be "sha256:"/],
  [`team/etl@sha256:${'A1'.repeat(32)}`, /digest must be "sha256:"/],
  [`team/etl@sha512:${'a1'.repeat(64)}`, /digest must be "sha256:"/],
  [`team/etl@${SHA}@${SHA}`, /digest must be "sha256:"/],
  ['team//etl:1', /empty path component/],
  ['/etl:1', /empty path component/],
  ['registry.example.com/:1', /empty path component/],
  ['team/etl/:1', /empty path component/],
  ['team/-etl:1', /component "-etl" must be lowercase letters and digits/],
  ['team/etl_:1', /component "etl_" must be/],
  ['team/e...tl:1', /component "e...tl" must be/],
  ['team/e___tl:1', /component "e___tl" must be/],
  ['registry.example.com:0/etl:1', /port "0" must be a number from 1 to 65535/],
  ['registry.example.com:65536/etl:1', /port "65536"/],
  ['registry.example.com:http/etl:1', /port "http"/],
  ['-bad.example.com/etl:1', /registry "-bad.example.com" is not a valid host/],
  ['bad..example.com/etl:1', /registry "bad..example.com" is not a valid host/],
  ['[::1/etl:1', /is not a valid host/],
  ['team/etl:1 ', /printable ASCII without spaces/],
  ['team/etl:1\n', /printable ASCII without spaces/],
  ['team/\u00e9tl:1', /printable ASCII without spaces/],
  [`r.io/${'a'.repeat(MAX_IMAGE_REFERENCE_LENGTH)}:1`, /at most 255 characters/],
];

describe('parseImageReference', () => {
  it.each(GOOD)('accepts %s', (input, expected) => {
    expect(parseImageReference(input)).toEqual({ ok: true, reference: expected });
  });

  it.each(BAD)('refuses %j', (input, message) => {
    const result = parseImageReference(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problem).toMatch(message);
  });

  it('accepts exactly 255 characters and no more', () => {
    const longest = `r.io/${'a'.repeat(MAX_IMAGE_REFERENCE_LENGTH - 'r.io/'.length - ':1'.length)}:1`;
    expect(longest).toHaveLength(255);
    expect(parseImageReference(longest).ok).toBe(true);
    expect(parseImageReference(`r.io/a${longest.slice('r.io/'.length)}`)).toEqual({ ok: false, problem: 'must be at most 255 characters' });
  });
});
