import net from 'node:net';

/**
 * A TCP proxy to stand between the API and PostgreSQL and cut the network on demand. `pause()` is a
 * network cut as the API sees it: open connections stay open but no byte crosses in either direction,
 * and new connections are accepted (by the proxy) but reach nothing. `resume()` lets the held bytes and
 * the waiting connections through, as a healed network would.
 */
export interface PausableProxy {
  port: number;
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startPausableProxy(target: { host: string; port: number }): Promise<PausableProxy> {
  let paused = false;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const waiting: Array<() => void> = [];
  const held: Array<{ to: net.Socket; chunk: Buffer }> = [];
  const closings: Array<() => void> = [];

  function join(client: net.Socket): void {
    if (client.destroyed) return;
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      // During a cut the other side cannot hear that this side closed: it learns when the network heals.
      if (paused) {
        closings.push(end);
        return;
      }
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    // While paused, bytes are held here in order and sent on resume: nothing is lost, only late.
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk: Buffer) => {
        if (paused) held.push({ to, chunk });
        else to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
  }

  const server = net.createServer((client) => {
    // A connection made during the cut is accepted and then hears nothing until the network heals.
    if (paused) waiting.push(() => join(client));
    else join(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('proxy has no port');

  return {
    port: address.port,
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const { to, chunk } of held.splice(0)) if (!to.destroyed && to.writable) to.write(chunk);
      for (const start of waiting.splice(0)) start();
      for (const close of closings.splice(0)) close();
    },
    async close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
