import type { Clock } from '../../src/lib/clock.js';

/** The server's clock, moved by the test: expiry and grace periods without sleeping. */
export class MovableClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}
