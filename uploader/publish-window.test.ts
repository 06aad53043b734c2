import assert from "node:assert/strict";
import { test } from "node:test";
import { PublishWindow } from "./publish-window.ts";

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test("no more than `size` publishes are in flight; a slot frees on PUBACK", async () => {
  const window = new PublishWindow(2);
  const acks = [deferred(), deferred(), deferred()];
  await window.add(() => acks[0]!.promise);
  await window.add(() => acks[1]!.promise);
  let third = false;
  const adding = window.add(() => {
    third = true;
    return acks[2]!.promise;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(third, false, "the third waits for a slot");
  acks[0]!.resolve();
  await adding;
  assert.equal(third, true);
  assert.equal(window.inFlight, 2);
  acks[1]!.resolve();
  acks[2]!.resolve();
  await window.drain();
  assert.equal(window.inFlight, 0);
});

test("a failed publish surfaces at the next add and at drain, without an unhandled rejection", async () => {
  const window = new PublishWindow(4);
  const ack = deferred();
  await window.add(() => ack.promise);
  ack.reject(new Error("connection lost"));
  await assert.rejects(window.drain(), /connection lost/);
  await assert.rejects(
    window.add(() => Promise.resolve()),
    /connection lost/,
  );
});
