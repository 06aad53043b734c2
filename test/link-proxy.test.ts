/**
 * The link-fault proxy itself (test/support/link-proxy.ts), against an echo server on loopback:
 * these check the harness, not the product.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { type LinkProxy, startLinkProxy } from "./support/link-proxy.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server that echoes everything and counts what it received. */
async function startEcho(): Promise<{
  server: Server;
  sockets: Set<Socket>;
  port: number;
  received: () => Buffer;
}> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.on("data", (data: Buffer) => {
      chunks.push(data);
      socket.write(data);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return { server, sockets, port, received: () => Buffer.concat(chunks) };
}

async function open(
  port: number,
): Promise<{ socket: Socket; received: () => Buffer; closed: Promise<void> }> {
  const socket = connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  const chunks: Buffer[] = [];
  socket.on("data", (data: Buffer) => chunks.push(data));
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  await once(socket, "connect");
  return { socket, received: () => Buffer.concat(chunks), closed };
}

async function until(probe: () => boolean, timeoutMs = 3000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe("link proxy", () => {
  let echo: Awaited<ReturnType<typeof startEcho>>;
  let proxy: LinkProxy;

  before(async () => {
    echo = await startEcho();
    proxy = await startLinkProxy({ target: { host: "127.0.0.1", port: echo.port } });
  });

  after(async () => {
    await proxy.close();
    for (const socket of echo.sockets) socket.destroy();
    await new Promise((r) => echo.server.close(r));
  });

  test("forwards both ways and counts bytes and connections", async () => {
    const before = proxy.stats();
    const peer = await open(proxy.port);
    peer.socket.write("hello");
    await until(() => peer.received().toString() === "hello", 3000, "the echo");
    const stats = proxy.stats();
    assert.equal(stats.clientToServer - before.clientToServer, 5);
    assert.equal(stats.serverToClient - before.serverToClient, 5);
    assert.equal(stats.connections - before.connections, 1);
    peer.socket.destroy();
    await until(() => proxy.stats().open === 0, 3000, "the connection to close");
  });

  test("setRate limits throughput to about the rate, and lifting it restores full speed", async () => {
    const rate = 200_000;
    proxy.setRate(rate);
    const peer = await open(proxy.port);
    const payload = Buffer.alloc(200_000, 7);
    const started = Date.now();
    peer.socket.write(payload);
    await until(() => peer.received().length >= payload.length, 10_000, "the throttled echo");
    const seconds = (Date.now() - started) / 1000;
    // 200 kB each way at 200 kB/s per direction, pipelined: about 1 s. A generous band.
    assert.ok(seconds >= 0.8 && seconds <= 3, `200 kB at 200 kB/s took ${seconds} s`);
    proxy.setRate(undefined);
    const fast = Date.now();
    peer.socket.write(payload);
    await until(() => peer.received().length >= 2 * payload.length, 5000, "the unthrottled echo");
    assert.ok(Date.now() - fast < 500, `unthrottled 200 kB took ${Date.now() - fast} ms`);
    assert.ok(peer.received().equals(Buffer.concat([payload, payload])), "bytes intact and in order");
    peer.socket.destroy();
  });

  test("setDelay holds every byte back in each direction", async () => {
    proxy.setDelay(250);
    try {
      const peer = await open(proxy.port);
      const started = Date.now();
      peer.socket.write("ping");
      await until(() => peer.received().toString() === "ping", 3000, "the delayed echo");
      const ms = Date.now() - started;
      assert.ok(ms >= 480 && ms < 2000, `round trip through a 250 ms delay took ${ms} ms`);
      peer.socket.destroy();
    } finally {
      proxy.setDelay(0);
    }
  });

  test("cut destroys every connection; the next one works", async () => {
    const a = await open(proxy.port);
    const b = await open(proxy.port);
    a.socket.write("x");
    await until(() => a.received().length === 1, 3000, "the echo");
    proxy.cut();
    await Promise.all([a.closed, b.closed]);
    assert.equal(proxy.stats().open, 0);
    const c = await open(proxy.port);
    c.socket.write("again");
    await until(() => c.received().toString() === "again", 3000, "the echo after a cut");
    c.socket.destroy();
  });

  test("a cut from an onBytes hook keeps that data from the server", async () => {
    const echoed = echo.received().length;
    const stop = proxy.onBytes("clientToServer", ({ chunk }) => {
      if (chunk.includes("MARKER")) proxy.cut();
    });
    try {
      const peer = await open(proxy.port);
      peer.socket.write("before");
      await until(() => peer.received().toString() === "before", 3000, "the echo");
      peer.socket.write("xxMARKERxx");
      await peer.closed;
      await sleep(100);
      assert.equal(echo.received().subarray(echoed).toString(), "before");
    } finally {
      stop();
    }
  });

  test("refuse closes new connections at once; refuse(false) lets them through again", async () => {
    proxy.refuse(true);
    try {
      const refusedBefore = proxy.stats().refused;
      // The reset may come before or after the client's connect completes: either way it closes.
      const socket = connect({ host: "127.0.0.1", port: proxy.port });
      let received = 0;
      socket.on("error", () => {});
      socket.on("data", (data: Buffer) => {
        received += data.length;
      });
      socket.on("connect", () => socket.write("lost"));
      await new Promise((resolve) => socket.on("close", resolve));
      assert.equal(received, 0);
      assert.equal(proxy.stats().refused, refusedBefore + 1);
    } finally {
      proxy.refuse(false);
    }
    const peer = await open(proxy.port);
    peer.socket.write("ok");
    await until(() => peer.received().toString() === "ok", 3000, "the echo after refuse(false)");
    peer.socket.destroy();
  });

  test("halfOpen keeps sockets open in silence; resume delivers what waited", async () => {
    const peer = await open(proxy.port);
    peer.socket.write("one");
    await until(() => peer.received().toString() === "one", 3000, "the echo");
    const echoed = echo.received().length;
    proxy.halfOpen();
    try {
      peer.socket.write("two");
      await sleep(400);
      assert.equal(echo.received().length, echoed, "nothing reaches the server while half-open");
      assert.equal(peer.received().toString(), "one", "nothing comes back while half-open");
      assert.equal(peer.socket.destroyed, false, "the client's socket stays open");
      assert.equal(proxy.stats().open, 1);
    } finally {
      proxy.resume();
    }
    await until(() => peer.received().toString() === "onetwo", 3000, "the echo after resume");
    peer.socket.destroy();
  });

  test("a close during halfOpen does not reach the other side", async () => {
    const peer = await open(proxy.port);
    peer.socket.write("hi");
    await until(() => peer.received().toString() === "hi", 3000, "the echo");
    assert.equal(echo.sockets.size, 1);
    proxy.halfOpen();
    try {
      peer.socket.destroy();
      await peer.closed;
      await sleep(300);
      assert.equal(echo.sockets.size, 1, "the server's socket stays open: no FIN crosses a dead link");
    } finally {
      proxy.resume();
    }
    await sleep(100);
    assert.equal(echo.sockets.size, 1, "still open after resume: the server has said nothing since");
    proxy.cut();
    await until(() => echo.sockets.size === 0, 3000, "the server's socket to close after cut");
    assert.equal(proxy.stats().open, 0);
  });
});
