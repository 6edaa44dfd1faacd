import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** What the receiver answers to one request: a status and body, or `hang` (never answer, until closed). */
export type Reply = { status: number; body?: string; headers?: Record<string, string> } | 'hang';

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A real webhook endpoint on 127.0.0.1: records every request, answers from a queue of replies (then
 * 200), and verifies signatures with the standardwebhooks library's own verifier.
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  private readonly replies: Reply[] = [];
  private readonly hanging = new Set<http.ServerResponse>();
  private server: http.Server;

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        const reply = this.replies.shift() ?? { status: 200, body: 'ok' };
        if (reply === 'hang') {
          this.hanging.add(res);
          return;
        }
        res.writeHead(reply.status, reply.headers ?? {});
        res.end(reply.body ?? '');
      });
    });
  }

  async listen(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return this;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = '/hook', host = '127.0.0.1'): string {
    return `http://${host}:${this.port}${path}`;
  }

  /** The next requests get these answers, in order. */
  answer(...replies: Reply[]): void {
    this.replies.push(...replies);
  }

  /** The parsed body of a request, if its signature verifies with `secret` (throws otherwise). */
  static verify(secret: string, request: Received): { type: string; timestamp: string; data: Record<string, unknown> } {
    const headers = {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    };
    return new Webhook(secret).verify(request.body, headers) as { type: string; timestamp: string; data: Record<string, unknown> };
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}
