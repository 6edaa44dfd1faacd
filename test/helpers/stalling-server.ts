import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface StallingServer {
  baseUrl: string;
  /** Requests seen, as "METHOD /path?query". */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A fake API on 127.0.0.1: `answer` may answer a request; when it returns false the request is
 * accepted and never answered (headers included), like a server that hangs. `close` cuts every socket.
 */
export async function startStallingServer(answer: (request: IncomingMessage, response: ServerResponse) => boolean = () => false): Promise<StallingServer> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    answer(request, response);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
