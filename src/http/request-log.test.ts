import { describe, expect, it } from 'vitest';
import { redactUrl } from './request-log.js';

describe('redactUrl', () => {
  it('hides query values whose names look secret and keeps the rest', () => {
    expect(redactUrl('/clusters?api_key=skd_abc&limit=5&token=x')).toBe('/clusters?api_key=%5Bredacted%5D&limit=5&token=%5Bredacted%5D');
    expect(redactUrl('/clusters?limit=5')).toBe('/clusters?limit=5');
    expect(redactUrl('/clusters')).toBe('/clusters');
  });
});
