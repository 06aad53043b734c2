import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { makeStudy, manifestOf } from "../testing/box.ts";
import { LogCapture } from "../testing/harness.ts";
import { chunkFileName, contentDirName, parseChunkName, Staging, transferDirName } from "./staging.ts";

const HOUR = 60 * 60 * 1000;
let dir: string;
let logs: LogCapture;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "dxgate-staging-"));
  logs = new LogCapture();
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

function sha(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

test("chunk file names carry offset, length and hash, and parse back", () => {
  const name = chunkFileName(4096, 2904, "ab".repeat(32));
  assert.equal(name, "0000000000001000-00000b58-abababababababab.chunk");
  assert.deepEqual(parseChunkName(name), { name, offset: 4096, length: 2904, sha16: "abababababababab" });
  assert.equal(parseChunkName(".x.tmp"), undefined);
  assert.equal(parseChunkName("0000000000001000-00000000-abababababababab.chunk"), undefined);
  assert.equal(transferDirName("t-1"), "t-1");
  assert.match(transferDirName("../../etc"), /^h-[0-9a-f]{40}$/);
});

test("chunks staged in any order, overlapping, assemble to the file; a second Staging on the dir sees the same", async () => {
  const staging = new Staging(dir, logs.log);
  const { instances } = makeStudy({ sizes: [10_000] });
  const { bytes, descriptor } = instances[0]!;
  const put = (s: Staging, start: number, end: number) => {
    const data = bytes.subarray(start, end);
    return s.writeChunk("site", descriptor, start, data, sha(data));
  };
  await put(staging, 8192, 10_000);
  await put(staging, 0, 4096);
  await put(staging, 0, 4096); // a redelivery replaces itself
  const other = new Staging(dir, logs.log);
  await put(other, 2048, 9000); // another process, another alignment
  assert.deepEqual(await staging.held("site", descriptor), [[0, 10_000]]);
  assert.equal(await staging.stagedBytes("site", Date.now() + HOUR), 4096 + 6952 + 1808);

  const result = await staging.assemble("site", descriptor);
  assert.ok(result.status === "ok");
  assert.ok((await readFile(result.path)).equals(bytes));
});

test("a torn chunk file (shorter than its name says) is a gap, and is removed", async () => {
  const staging = new Staging(dir, logs.log);
  const { instances } = makeStudy({ sizes: [6000] });
  const { bytes, descriptor } = instances[0]!;
  await staging.writeChunk("site", descriptor, 0, bytes.subarray(0, 4096), sha(bytes.subarray(0, 4096)));
  const tail = bytes.subarray(4096);
  const torn = join(staging.contentDir("site", descriptor), chunkFileName(4096, tail.length, sha(tail)));
  await writeFile(torn, tail.subarray(0, 10));
  assert.deepEqual(await staging.assemble("site", descriptor), { status: "gap" });
  assert.deepEqual(await staging.held("site", descriptor), [[0, 4096]]);
});

test("chunks that each match their names but not the file are all dropped (the box's file changed)", async () => {
  const staging = new Staging(dir, logs.log);
  const { instances } = makeStudy({ sizes: [5000] });
  const { descriptor } = instances[0]!;
  const otherBytes = makeStudy({ sizes: [5000] }).instances[0]!.bytes;
  await staging.writeChunk("site", descriptor, 0, otherBytes, sha(otherBytes));
  const result = await staging.assemble("site", descriptor);
  assert.equal(result.status, "mismatch");
  assert.deepEqual(await staging.discardBadChunks("site", descriptor), { bad: 0, removedBytes: 5000 });
  assert.deepEqual(await staging.held("site", descriptor), []);
});

test("load drops the old layout and unreadable records, keeps transfers; sweep removes only what is idle", async () => {
  const oldLayout = join(dir, "site-a", "t-old");
  await mkdir(oldLayout, { recursive: true });
  await writeFile(join(oldLayout, "1.2.3.part"), "half");
  const staging = new Staging(dir, logs.log);
  const live = makeStudy({ sizes: [3000] });
  const idle = makeStudy({ sizes: [3000] });
  await staging.begin("site-a", manifestOf(live, "t-live", 4096), "a".repeat(64));
  await staging.begin("site-a", manifestOf(idle, "t-idle", 4096), "b".repeat(64));
  await writeFile(join(dir, "site-a", "transfers", "broken.json"), "{");
  const liveInstance = live.instances[0]!;
  const idleInstance = idle.instances[0]!;
  for (const { bytes, descriptor } of [liveInstance, idleInstance]) {
    await staging.writeChunk("site-a", descriptor, 0, bytes.subarray(0, 100), sha(bytes.subarray(0, 100)));
  }
  // Content no transfer refers to, e.g. left by a transfer whose record was swept earlier.
  const orphan = makeStudy({ sizes: [500] }).instances[0]!;
  await staging.writeChunk("site-a", orphan.descriptor, 0, orphan.bytes, sha(orphan.bytes));

  const restarted = new Staging(dir, logs.log);
  await restarted.load();
  assert.deepEqual(logs.find("staging loaded")[0]?.transfers, 2);
  assert.equal(logs.find("staging dir of the old layout removed", { dir: "t-old" }).length, 1);
  assert.deepEqual((await readdir(join(dir, "site-a"))).sort(), ["content", "transfers"]);
  assert.ok(await restarted.get("site-a", "t-live"));

  // Two days pass for everything but the live transfer's content.
  const old = new Date(Date.now() - 49 * HOUR);
  for (const name of await readdir(join(dir, "site-a", "transfers"))) {
    await utimes(join(dir, "site-a", "transfers", name), old, old);
  }
  await utimes(restarted.contentDir("site-a", idleInstance.descriptor), old, old);
  await utimes(restarted.contentDir("site-a", orphan.descriptor), old, old);
  assert.equal(await restarted.sweep(48 * HOUR), 1);
  assert.ok(await restarted.get("site-a", "t-live"), "kept alive by its content");
  assert.equal(await restarted.read("site-a", "t-idle"), undefined);
  assert.deepEqual(await readdir(join(dir, "site-a", "content")), [contentDirName(liveInstance.descriptor)]);
});
