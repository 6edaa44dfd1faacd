import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { checkUrl, resolveDestination, type DestinationPolicy } from './webhook-destination.js';

/** Most response bytes read from an endpoint; the rest is not waited for. */
export const MAX_RESPONSE_READ = 64 * 1024;
/** Most response bytes kept with an attempt. */
export const MAX_RESPONSE_STORED = 1024;

export interface SendRequest {
  url: string;
  secret: string;
  /** The `webhook-id`: the delivery's id, the same on every retry of one event to one endpoint. */
  messageId: string;
  at: Date;
  payload: string;
  timeoutMs: number;
  policy: DestinationPolicy;
  /** Aborted when the worker stops: the attempt is dropped and retried elsewhere. */
  signal: AbortSignal;
}

export interface SendResult {
  statusCode: number | null;
  /** Why the attempt failed short of a 2xx (a refused destination, a redirect, a timeout, a status). */
  error: string | null;
  responseBody: string | null;
}

/**
 * One attempt, signed per Standard Webhooks. The destination is checked again now (its DNS may have
 * changed since the endpoint was created) and the connection goes to exactly the address checked: the
 * request's `lookup` hands back that address instead of resolving the name a second time. Redirects
 * are not followed (http.request never does): a 3xx is a failed attempt.
 */
export async function sendWebhook(request: SendRequest): Promise<SendResult> {
  let url: URL;
  let target: { address: string; family: number };
  try {
    url = checkUrl(request.url, request.policy);
    target = await resolveDestination(url, request.policy);
  } catch (error) {
    return { statusCode: null, error: `destination refused: ${(error as Error).message}`, responseBody: null };
  }
  const signature = new Webhook(request.secret).sign(request.messageId, request.at, request.payload);
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, [target]);
    else callback(null, target.address, target.family);
  };
  const client = url.protocol === 'https:' ? https : http;

  return new Promise<SendResult>((resolve, reject) => {
    const timeout = AbortSignal.timeout(request.timeoutMs);
    const signal = AbortSignal.any([request.signal, timeout]);
    const req = client.request(
      url,
      {
        method: 'POST',
        lookup: pinned,
        signal,
        agent: false,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'SkaleData-Webhooks/1',
          'webhook-id': request.messageId,
          'webhook-timestamp': String(Math.floor(request.at.getTime() / 1000)),
          'webhook-signature': signature,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let read = 0;
        const settle = () => {
          const body = Buffer.concat(chunks).subarray(0, MAX_RESPONSE_STORED);
          const statusCode = res.statusCode ?? null;
          const ok = statusCode !== null && statusCode >= 200 && statusCode < 300;
          const error = ok ? null : statusCode !== null && statusCode >= 300 && statusCode < 400 ? `redirect (${statusCode}) not followed` : `status ${statusCode}`;
          resolve({ statusCode, error, responseBody: body.length > 0 ? new TextDecoder().decode(body) : null });
        };
        res.on('data', (chunk: Buffer) => {
          if (read >= MAX_RESPONSE_READ) return;
          chunks.push(chunk.subarray(0, MAX_RESPONSE_READ - read));
          read += chunk.length;
          // Enough read: the rest of a large (or endless) body is not waited for.
          if (read >= MAX_RESPONSE_READ) {
            res.destroy();
            settle();
          }
        });
        res.on('end', settle);
        res.on('error', (error) => {
          if (read >= MAX_RESPONSE_READ) return;
          if (request.signal.aborted) reject(error);
          else resolve({ statusCode: res.statusCode ?? null, error: timeout.aborted ? `timed out after ${request.timeoutMs} ms` : `response failed: ${error.message}`, responseBody: null });
        });
      },
    );
    req.on('error', (error) => {
      if (request.signal.aborted) reject(error);
      else resolve({ statusCode: null, error: timeout.aborted ? `timed out after ${request.timeoutMs} ms` : `connection failed: ${error.message}`, responseBody: null });
    });
    req.end(request.payload);
  });
}
