import http from 'node:http';
import net from 'node:net';

/** JSON over fetch, for setting things up and reading state. */
export async function callJson<T = Record<string, unknown>>(
  base: string,
  method: string,
  url: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, json: (await response.json()) as T };
}

/** What one request came to: a status (and its Connection header) or the error that replaced it. */
export interface Outcome {
  path: string;
  sentAt: number;
  status?: number;
  connection?: string | undefined;
  /** The socket had carried an earlier request (a keep-alive reuse). */
  reused: boolean;
  error?: string;
  bytes: number;
}

/** One request through a keep-alive agent; resolves (never rejects) once the body is read or the request failed. */
export function send(agent: http.Agent, base: string, path: string, headers: Record<string, string>): Promise<Outcome> {
  const url = new URL(path, base);
  const outcome: Outcome = { path, sentAt: Date.now(), reused: false, bytes: 0 };
  return new Promise((resolve) => {
    const request = http.request(url, { agent, headers }, (response) => {
      outcome.status = response.statusCode;
      outcome.connection = response.headers.connection;
      response.on('data', (chunk: Buffer) => (outcome.bytes += chunk.length));
      response.on('end', () => resolve(outcome));
      response.on('error', (error: NodeJS.ErrnoException) => resolve({ ...outcome, error: `body: ${error.code ?? error.message}` }));
    });
    request.on('socket', () => (outcome.reused = request.reusedSocket));
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ ...outcome, error: error.code ?? error.message }));
    request.setTimeout(20_000, () => request.destroy(new Error('client timeout')));
    request.end();
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function parseResponse(text: string): RawResponse | null {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd === -1) return null;
  const [statusLine = '', ...headerLines] = text.slice(0, headEnd).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(headEnd + 4) };
}

/**
 * A request written by hand, in pieces and at the pace the test decides: `write` more of it, then
 * `response` resolves once the server has answered and closed the connection (or rejects with what
 * happened to the socket instead).
 */
export interface RawExchange {
  write(text: string): void;
  response: Promise<RawResponse>;
  /** Resolves when the server closed or reset the connection (with the error code, if any). */
  closed: Promise<string | null>;
}

/**
 * Opens a keep-alive connection, has one request (GET /healthz) answered on it — so the server has
 * certainly accepted the connection, not merely the kernel queued it — and then writes `firstPart`.
 */
export async function openRaw(port: number, firstPart: string, label = firstPart.split('\r\n')[0]): Promise<RawExchange> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setTimeout(30_000, () => socket.destroy(new Error('client timeout')));
  let received = '';
  let socketError: string | null = null;
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
  const closed = new Promise<string | null>((resolve) => {
    socket.on('error', (error: NodeJS.ErrnoException) => (socketError = error.code ?? error.message));
    socket.on('close', () => resolve(socketError));
  });
  socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  for (const deadline = Date.now() + 10_000; ; ) {
    const warmUp = parseResponse(received);
    if (warmUp && received.length >= received.indexOf('\r\n\r\n') + 4 + Number(warmUp.headers['content-length'])) break;
    if (socket.destroyed || Date.now() > deadline) throw new Error(`${label}: the warm-up request was not answered`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  received = '';
  const response = closed.then((error) => {
    const parsed = parseResponse(received);
    if (!parsed) throw new Error(`${label}: no response (${error ?? 'closed'}): ${JSON.stringify(received.slice(0, 200))}`);
    return parsed;
  });
  // Read by the test when it wants the answer; a socket that ends without one must not count as unhandled before then.
  response.catch(() => undefined);
  socket.write(firstPart);
  return { write: (text) => socket.write(text), response, closed };
}

/** Whether a new TCP connection to the port is accepted (true) or refused (false). */
export async function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
