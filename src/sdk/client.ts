import createFetchClient, { type Client, type Middleware } from 'openapi-fetch';
import { SkaledataConnectionError, SkaledataPaginationError, SkaledataProblem, type ProblemBody } from './errors.js';
import type { paths } from './generated/openapi.js';
import type { DagBundleAccepted, ItemOf, ListPath, PathParamsOf, QueryOf } from './types.js';
import { createWaiters, type Waiters } from './wait.js';

export interface ClientOptions {
  /** Where the API answers, e.g. `https://api.skaledata.com` or `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** An API key (`skd_…`). */
  apiKey?: string;
  /** A user session token (Clerk, or `skaledata dev-token` against a local server). */
  token?: string;
  /** A fetch to use instead of the global one (tests, proxies, retries). */
  fetch?: (request: Request) => Promise<Response>;
  /** Sent as User-Agent (the API logs it with each key's activity). */
  userAgent?: string;
}

/** One file of a DAG upload: its path in the bundle (e.g. `dags/etl.py`), or an archive's file name. */
export interface DagFileInput {
  name: string;
  data: Uint8Array | string | Blob;
}

export interface LogOptions {
  /** How many of the latest lines to send first. */
  tail?: number;
  /** Keep the stream open and yield new lines as they come. */
  follow?: boolean;
  signal?: AbortSignal;
}

export type PaginateQuery<P extends ListPath> = Omit<QueryOf<P>, 'cursor'>;

/**
 * The typed client: openapi-fetch's `GET`/`POST`/`PUT`/`PATCH`/`DELETE` over the API's paths (every
 * answer that is not 2xx throws a SkaledataProblem, so `data` is there when the call returns; `unwrap`
 * says so to the type checker), plus the helpers below.
 */
export interface SkaledataClient extends Client<paths>, Waiters {
  readonly baseUrl: string;
  /**
   * Every item of a `{ data, next_cursor }` list, fetching the next page only when it is needed. A server
   * that repeats a `next_cursor` ends it with SkaledataPaginationError (after the items it did send).
   */
  paginate<P extends ListPath>(path: P, query?: PaginateQuery<P>, pathParams?: PathParamsOf<P>): AsyncGenerator<ItemOf<P>, void, undefined>;
  /** Uploads DAG files (each named by its path in the bundle) or exactly one `.zip`/`.tar.gz` bundle. */
  uploadDags(appId: string, files: DagFileInput[]): Promise<DagBundleAccepted>;
  /** A pod's log lines (text/plain), as they arrive when following. */
  podLogs(clusterId: string, pod: string, options?: LogOptions): AsyncGenerator<string, void, undefined>;
}

/** The data of a call that returned (errors were thrown by the client), typed as the 2xx answer. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data } = await call;
  return data as T;
}

const PAGE_SIZE = 200;

export function createClient(options: ClientOptions): SkaledataClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/i.test(baseUrl)) throw new TypeError(`baseUrl must be an http(s) URL (got "${options.baseUrl}")`);
  if (options.apiKey && options.token) throw new TypeError('pass apiKey or token, not both');
  const credential = options.apiKey ?? options.token;
  const headers: Record<string, string> = { 'user-agent': options.userAgent ?? 'skaledata-sdk' };
  if (credential) headers.authorization = `Bearer ${credential}`;

  const api = createFetchClient<paths>({ baseUrl, headers, ...(options.fetch ? { fetch: options.fetch } : {}) });
  api.use(problems(baseUrl));

  async function* paginate<P extends ListPath>(path: P, query?: PaginateQuery<P>, pathParams?: PathParamsOf<P>): AsyncGenerator<ItemOf<P>, void, undefined> {
    let cursor: string | null = null;
    const seen = new Set<string>();
    do {
      const init = { params: { path: pathParams, query: { limit: PAGE_SIZE, ...query, ...(cursor ? { cursor } : {}) } } };
      // The generic path cannot be checked against each route's parameters here; callers' arguments were.
      const page = (await unwrap(api.GET(path as never, init as never))) as { data: Array<ItemOf<P>>; next_cursor: string | null };
      for (const item of page.data) yield item;
      cursor = page.next_cursor;
      // A server that hands back a cursor it gave before would be followed forever.
      if (cursor && seen.has(cursor)) throw new SkaledataPaginationError(path, cursor, seen.size + 1);
      if (cursor) seen.add(cursor);
    } while (cursor);
  }

  async function uploadDags(appId: string, files: DagFileInput[]): Promise<DagBundleAccepted> {
    const form = new FormData();
    for (const file of files) {
      // A Uint8Array may view a SharedArrayBuffer, which a Blob (in the DOM's types) does not take: copy it.
      const blob = file.data instanceof Blob ? file.data : new Blob([typeof file.data === 'string' ? file.data : new Uint8Array(file.data)]);
      form.append('file', blob, file.name);
    }
    // The body is multipart: openapi-fetch passes FormData through and lets fetch set the boundary.
    const init = { params: { path: { id: appId } }, body: form as never, bodySerializer: (body: unknown) => body as FormData };
    return unwrap(api.POST('/apps/{id}/dags', init));
  }

  async function* podLogs(clusterId: string, pod: string, logOptions: LogOptions = {}): AsyncGenerator<string, void, undefined> {
    const query: { tail?: number; follow?: boolean } = {};
    if (logOptions.tail !== undefined) query.tail = logOptions.tail;
    if (logOptions.follow) query.follow = true;
    const { response } = await api.GET('/clusters/{id}/pods/{pod}/logs', {
      params: { path: { id: clusterId, pod }, query },
      parseAs: 'stream',
      ...(logOptions.signal ? { signal: logOptions.signal } : {}),
    });
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffered = '';
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += decoder.decode(value, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          yield buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
        }
      }
      buffered += decoder.decode();
      if (buffered) yield buffered;
    } finally {
      reader.releaseLock();
      await response.body.cancel().catch(() => undefined);
    }
  }

  const client = Object.assign(api, { baseUrl, paginate, uploadDags, podLogs });
  return Object.assign(client, createWaiters(client));
}

/** Turns every non-2xx answer into a SkaledataProblem, and a request that got no answer into a SkaledataConnectionError. */
function problems(baseUrl: string): Middleware {
  return {
    async onResponse({ request, response }) {
      if (response.ok) return undefined;
      throw await problemFrom(request, response);
    },
    onError({ error }) {
      // A caller's abort stays an abort.
      if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) return error;
      return new SkaledataConnectionError(baseUrl, error);
    },
  };
}

async function problemFrom(request: Request, response: Response): Promise<SkaledataProblem> {
  const text = await response.text().catch(() => '');
  const where = { method: request.method, url: new URL(request.url).pathname, retryAfter: response.headers.get('retry-after') };
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: a proxy's page, or no body.
  }
  if (isProblem(body)) return new SkaledataProblem({ ...body, status: response.status }, where);
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return new SkaledataProblem(
    { status: response.status, code: 'unexpected_response', detail: `HTTP ${response.status} ${response.statusText}${snippet ? `: ${snippet}` : ''}` },
    where,
  );
}

function isProblem(body: unknown): body is ProblemBody {
  return typeof body === 'object' && body !== null && typeof (body as { code?: unknown }).code === 'string';
}
