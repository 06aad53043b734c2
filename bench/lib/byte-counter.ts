/**
 * A counting TCP relay on loopback, placed between the link proxy and the broker: it counts the bytes
 * that made it across the link (the proxy counts what entered it). The difference is what the link
 * lost on a cut (queued in the bottleneck or in propagation), which no protocol can avoid re-sending.
 */
import { once } from "node:events";
import { createServer, type Socket, connect as tcpConnect } from "node:net";

export interface ByteCounter {
  port: number;
  /** Bytes delivered towards the broker / towards the box, every connection. */
  stats(): { up: number; down: number };
  close(): Promise<void>;
}

export async function startByteCounter(
  target: { host: string; port: number },
  /** Every piece of data going towards the broker, with its connection's number. */
  onUp?: (data: Buffer, connection: number) => void,
): Promise<ByteCounter> {
  let up = 0;
  let connections = 0;
  let down = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    connections += 1;
    const connection = connections;
    const upstream = tcpConnect(target);
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => sockets.delete(socket));
    }
    // What crossed the link reaches the broker even when the link is cut behind it: the broker gets
    // the bytes, then an end of stream (a reset would make its kernel drop what it has not read yet).
    client.on("close", () => upstream.end());
    upstream.on("close", () => client.destroy());
    client.on("data", (data: Buffer) => {
      up += data.length;
      onUp?.(data, connection);
    });
    upstream.on("data", (data: Buffer) => {
      down += data.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    port,
    stats: () => ({ up, down }),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
