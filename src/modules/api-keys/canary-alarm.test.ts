import { describe, expect, it } from 'vitest';
import type { EventInput } from '../events/event-types.js';
import { CanaryAlarm, canaryDedupeKey, canaryRoute } from './canary-alarm.js';

const trip = (keyId = 'key_1') => ({ type: 'canary' as const, keyId, accountId: 'user_1' });
const request = (ip: string, extra: Partial<{ url: string; route: string; agent: string }> = {}) => ({
  ip,
  method: 'GET',
  url: extra.url ?? '/clusters/cls_1?x=1',
  headers: extra.agent === undefined ? {} : { 'user-agent': extra.agent },
  routeOptions: { url: extra.route },
});

function setup(options: { capacity?: number; fail?: boolean } = {}) {
  let t = Date.UTC(2026, 0, 1, 12, 0, 0);
  const written: EventInput[] = [];
  const alarm = new CanaryAlarm({
    write: async (event) => {
      if (options.fail === true) throw new Error('database down');
      written.push(event);
    },
    now: () => t,
    ...(options.capacity === undefined ? {} : { capacity: options.capacity }),
  });
  return { alarm, written, advance: (ms: number) => (t += ms) };
}

describe('CanaryAlarm', () => {
  it('queues one event per key, address and minute, with the facts of the request, and writes it after the turn', async () => {
    const { alarm, written, advance } = setup();
    for (let i = 0; i < 5; i++) alarm.trip(trip(), request('203.0.113.1', { route: '/clusters/:id', agent: 'curl/8' }));
    alarm.trip(trip(), request('203.0.113.2'));
    alarm.trip(trip('key_2'), request('203.0.113.1'));
    // Nothing is written in the caller's turn.
    expect(written).toEqual([]);
    await alarm.flush();
    expect(written).toHaveLength(3);
    expect(written[0]).toEqual({
      accountId: 'user_1',
      type: 'api_key.canary_used',
      actor: { type: 'system', id: 'canary', clientIp: '203.0.113.1', userAgent: 'curl/8' },
      subject: { type: 'api_key', id: 'key_1' },
      data: { client_ip: '203.0.113.1', user_agent: 'curl/8', method: 'GET', route: '/clusters/{id}' },
      dedupeKey: canaryDedupeKey('key_1', '203.0.113.1', Date.UTC(2026, 0, 1, 12, 0, 0)),
    });
    expect(written[1]?.data).toMatchObject({ client_ip: '203.0.113.2', user_agent: null, route: '/clusters/cls_1' });
    advance(60_000);
    alarm.trip(trip(), request('203.0.113.1'));
    await alarm.flush();
    expect(written).toHaveLength(4);
    expect(written[3]?.dedupeKey).not.toBe(written[0]?.dedupeKey);
  });

  it('bounds the queue (the rest is counted as dropped) and counts writes that fail; never throws', async () => {
    const full = setup({ capacity: 2 });
    for (let i = 0; i < 5; i++) full.alarm.trip(trip(), request(`198.51.100.${i}`));
    expect(full.alarm.dropped).toBe(3);
    await full.alarm.flush();
    expect(full.written).toHaveLength(2);

    const failing = setup({ fail: true });
    failing.alarm.trip(trip(), request('198.51.100.9'));
    await failing.alarm.flush();
    expect(failing.alarm.dropped).toBe(1);
  });

  it('names the route by its template, else by the path without its query (cut to 256 characters)', () => {
    expect(canaryRoute({ url: '/apps/app_1/deploys?x', routeOptions: { url: '/apps/:id/deploys' } })).toBe('/apps/{id}/deploys');
    expect(canaryRoute({ url: '/clusters/%zz?token=1' })).toBe('/clusters/%zz');
    expect(canaryRoute({ url: `/${'a'.repeat(400)}` })).toHaveLength(256);
  });
});
