/**
 * A link-fault TCP proxy for tests: sits on loopback between a client (the box) and a server (the
 * county broker) and throttles, delays, cuts, refuses and half-opens connections on command.
 *
 * - `setRate(bps)`: a token bucket per direction (each direction gets `bps` bytes per second, shared
 *   by every connection of the proxy); `undefined` lifts the limit.
 * - `setDelay(ms)`: every byte is held `ms` before it is forwarded (order kept).
 * - `cut()`: destroy every connection now; queued bytes are lost.
 * - `refuse(true)`: new connections are closed at once (a dead uplink); existing ones are untouched.
 * - `halfOpen()`: nothing is forwarded in either direction, yet every socket stays open (a NAT that
 *   dropped the mapping: the peers see silence). Reading stops, so the bytes wait in the kernel
 *   buffers; `resume()` forwards again whatever the peers still have to say. A side that closes
 *   meanwhile is not announced to the other, which stays open until it closes itself, sends
 *   anything after `resume()` (then it is reset), or `cut()` / `close()`.
 * - `onBytes(direction, callback)`: called with every piece of data as it reaches the proxy, before it
 *   is forwarded; a `cut()` or `halfOpen()` from inside the callback keeps that piece from the peer.
 *
 * Bounded: at most `maxConnections` at once and `highWaterBytes` queued per direction and connection
 * (beyond it the source is paused). Loopback only; `close()` ends everything.
 */
import { once } from "node:events";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

export type Direction = "clientToServer" | "serverToClient";

export interface LinkProxyStats {
  clientToServer: number;
  serverToClient: number;
  /** Connections accepted and forwarded (refused ones are counted in `refused`). */
  connections: number;
  refused: number;
  open: number;
}

export interface BytesEvent {
  chunk: Buffer;
  /** Bytes of this direction received by the proxy so far, this chunk included (every connection). */
  total: number;
  connection: number;
}

export interface LinkProxy {
  port: number;
  close(): Promise<void>;
  cut(): void;
  setRate(bytesPerSecond: number | undefined): void;
  setDelay(ms: number): void;
  refuse(on: boolean): void;
  halfOpen(): void;
  resume(): void;
  stats(): LinkProxyStats;
  onBytes(direction: Direction, callback: (event: BytesEvent) => void): () => void;
}

export interface LinkProxyOptions {
  target: { host: string; port: number };
  maxConnections?: number;
  highWaterBytes?: number;
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;

class TokenBucket {
  rate: number | undefined;
  tokens = 0;
  last = Date.now();

  set(rate: number | undefined): void {
    if (rate !== undefined && !(Number.isFinite(rate) && rate > 0)) {
      throw new RangeError(`rate must be a positive number of bytes per second, got ${rate}`);
    }
    this.rate = rate;
    this.tokens = 0;
    this.last = Date.now();
  }

  /** Bytes that may go now (at most `want`), taken from the bucket. */
  take(want: number): number {
    if (this.rate === undefined) return want;
    const now = Date.now();
    // The bucket holds at most 50 ms worth (at least 1 byte): a short burst, never a second's worth.
    const burst = Math.max(1, Math.floor(this.rate / 20));
    this.tokens = Math.min(burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    const granted = Math.min(want, Math.floor(this.tokens));
    this.tokens -= granted;
    return granted;
  }

  /** Milliseconds until at least one byte may go. */
  wait(): number {
    if (this.rate === undefined) return 0;
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate));
  }
}

interface Pipe {
  from: Socket;
  to: Socket;
  direction: Direction;
  queue: Array<{ data: Buffer; at: number }>;
  queued: number;
  timer: NodeJS.Timeout | undefined;
  draining: boolean;
  ended: boolean;
}

interface Connection {
  id: number;
  client: Socket;
  server: Socket;
  pipes: Pipe[];
  closed: boolean;
  /** One side closed while half-open: the other never learns of it and stays open in silence. */
  orphan: boolean;
}

export async function startLinkProxy(options: LinkProxyOptions): Promise<LinkProxy> {
  const { target } = options;
  if (!LOOPBACK.test(target.host))
    throw new RangeError(`link proxy: loopback targets only, got ${target.host}`);
  const maxConnections = options.maxConnections ?? 64;
  const highWater = options.highWaterBytes ?? 1024 * 1024;
  const connections = new Set<Connection>();
  const buckets: Record<Direction, TokenBucket> = {
    clientToServer: new TokenBucket(),
    serverToClient: new TokenBucket(),
  };
  const hooks: Record<Direction, Set<(event: BytesEvent) => void>> = {
    clientToServer: new Set(),
    serverToClient: new Set(),
  };
  const totals: Record<Direction, number> = { clientToServer: 0, serverToClient: 0 };
  const counts = { connections: 0, refused: 0 };
  let delayMs = 0;
  let refusing = false;
  let halted = false;
  let closing = false;
  let nextId = 1;

  const destroy = (connection: Connection): void => {
    if (connection.closed) return;
    connection.closed = true;
    for (const pipe of connection.pipes) {
      clearTimeout(pipe.timer);
      pipe.queue.length = 0;
      pipe.queued = 0;
    }
    connection.client.destroy();
    connection.server.destroy();
    connections.delete(connection);
  };

  const pump = (connection: Connection, pipe: Pipe): void => {
    clearTimeout(pipe.timer);
    pipe.timer = undefined;
    if (connection.closed || connection.orphan || halted || pipe.draining) return;
    while (pipe.queue.length > 0) {
      const head = pipe.queue[0]!;
      const wait = head.at - Date.now();
      if (wait > 0) {
        pipe.timer = setTimeout(() => pump(connection, pipe), wait);
        return;
      }
      const granted = buckets[pipe.direction].take(head.data.length);
      if (granted === 0) {
        pipe.timer = setTimeout(() => pump(connection, pipe), buckets[pipe.direction].wait());
        return;
      }
      const piece = granted === head.data.length ? head.data : head.data.subarray(0, granted);
      if (granted === head.data.length) pipe.queue.shift();
      else head.data = head.data.subarray(granted);
      pipe.queued -= granted;
      const ok = pipe.to.write(piece);
      if (pipe.queued < highWater / 2 && pipe.from.isPaused() && !halted) pipe.from.resume();
      if (!ok) {
        pipe.draining = true;
        pipe.to.once("drain", () => {
          pipe.draining = false;
          pump(connection, pipe);
        });
        return;
      }
    }
    if (pipe.ended) pipe.to.end();
  };

  const makePipe = (connection: Connection, from: Socket, to: Socket, direction: Direction): Pipe => {
    const pipe: Pipe = {
      from,
      to,
      direction,
      queue: [],
      queued: 0,
      timer: undefined,
      draining: false,
      ended: false,
    };
    from.on("data", (data: Buffer) => {
      if (connection.closed) return;
      if (connection.orphan) {
        // The survivor of a half-open speaks after the link came back: its peer is gone (a recovered
        // NAT answers with a reset).
        if (!halted) destroy(connection);
        return;
      }
      totals[direction] += data.length;
      for (const hook of hooks[direction]) {
        hook({ chunk: data, total: totals[direction], connection: connection.id });
      }
      if (connection.closed) return; // cut from inside a hook: this piece never reaches the peer
      pipe.queue.push({ data, at: Date.now() + delayMs });
      pipe.queued += data.length;
      if (pipe.queued >= highWater || halted) from.pause();
      pump(connection, pipe);
    });
    from.on("end", () => {
      pipe.ended = true;
      pump(connection, pipe);
    });
    return pipe;
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    client.on("error", () => {});
    if (refusing || closing || connections.size >= maxConnections) {
      counts.refused += 1;
      client.resetAndDestroy();
      return;
    }
    counts.connections += 1;
    client.pause();
    const upstream = tcpConnect({ host: target.host, port: target.port });
    upstream.on("error", () => {});
    upstream.pause();
    const connection: Connection = {
      id: nextId++,
      client,
      server: upstream,
      pipes: [],
      closed: false,
      orphan: false,
    };
    connections.add(connection);
    connection.pipes.push(makePipe(connection, client, upstream, "clientToServer"));
    connection.pipes.push(makePipe(connection, upstream, client, "serverToClient"));
    const finish = () => {
      if (connection.closed) return;
      if (halted && !connection.orphan) {
        // No FIN or reset crosses a dropped mapping: the other side keeps its socket, in silence.
        connection.orphan = true;
        for (const pipe of connection.pipes) {
          clearTimeout(pipe.timer);
          pipe.queue.length = 0;
          pipe.queued = 0;
        }
        return;
      }
      destroy(connection);
    };
    client.on("close", finish);
    upstream.on("close", finish);
    upstream.on("connect", () => {
      if (!halted && !connection.closed) {
        client.resume();
        upstream.resume();
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };

  return {
    port,
    async close() {
      closing = true;
      for (const connection of [...connections]) destroy(connection);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    cut() {
      for (const connection of [...connections]) destroy(connection);
    },
    setRate(bytesPerSecond) {
      buckets.clientToServer.set(bytesPerSecond);
      buckets.serverToClient.set(bytesPerSecond);
    },
    setDelay(ms) {
      if (!(Number.isFinite(ms) && ms >= 0)) throw new RangeError(`delay must be ≥ 0 ms, got ${ms}`);
      delayMs = ms;
    },
    refuse(on) {
      refusing = on;
    },
    halfOpen() {
      halted = true;
      for (const connection of connections) {
        for (const pipe of connection.pipes) {
          clearTimeout(pipe.timer);
          pipe.timer = undefined;
          pipe.from.pause();
        }
      }
    },
    resume() {
      halted = false;
      for (const connection of [...connections]) {
        for (const pipe of connection.pipes) {
          if (pipe.queued < highWater && pipe.from.readyState !== "opening") pipe.from.resume();
          pump(connection, pipe);
        }
      }
    },
    stats() {
      return {
        clientToServer: totals.clientToServer,
        serverToClient: totals.serverToClient,
        connections: counts.connections,
        refused: counts.refused,
        open: connections.size,
      };
    },
    onBytes(direction, callback) {
      hooks[direction].add(callback);
      return () => hooks[direction].delete(callback);
    },
  };
}
