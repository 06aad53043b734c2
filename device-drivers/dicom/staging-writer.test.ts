import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { after, before, test } from "node:test";
import { StagingWriter } from "./staging-writer.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "dxgate-staging-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const header = Uint8Array.of(1, 2, 3, 4);

test("the header then every chunk, in order, and a closed file on finish", async () => {
  const path = join(dir, "one.part");
  const writer = new StagingWriter({ stagingPath: async () => path, header, highWaterMark: 8 });
  const chunks = Array.from({ length: 50 }, (_, index) => Buffer.alloc(7, index));
  for (const chunk of chunks) writer.write(chunk);
  writer.end();
  await finished(writer);
  assert.equal(writer.failure, undefined);
  assert.equal(writer.datasetBytes, 350);
  assert.deepEqual(await readFile(path), Buffer.concat([header, ...chunks]));
});

test("a staging failure is recorded, not thrown: the stream still finishes", async () => {
  const writer = new StagingWriter({
    stagingPath: async () => join(dir, "missing-directory", "two.part"),
    header,
  });
  writer.write(Buffer.alloc(100));
  writer.end(Buffer.alloc(10));
  await finished(writer);
  assert.match(String(writer.failure?.message), /ENOENT/);
  assert.equal(writer.datasetBytes, 110);
});

test("discard mid-stream removes the partial file", async () => {
  const path = join(dir, "three.part");
  const writer = new StagingWriter({ stagingPath: async () => path, header });
  writer.write(Buffer.alloc(1000));
  await new Promise((resolve) => setTimeout(resolve, 20));
  await writer.discard();
  assert.deepEqual(
    (await readdir(dir)).filter((name) => name === "three.part"),
    [],
  );
});

test("keepOpen: the finished file's handle is taken once, open; its head and size are known; discard closes an untaken one", async () => {
  const path = join(dir, "kept.part");
  const writer = new StagingWriter({ stagingPath: async () => path, header, keepOpen: true });
  assert.equal(writer.takeHandle(), undefined, "not before the file is complete");
  const chunks = [Buffer.alloc(70_000, 1), Buffer.alloc(10, 2)];
  for (const chunk of chunks) writer.write(chunk);
  writer.end();
  await finished(writer);
  assert.equal(writer.size, header.length + 70_010);
  assert.deepEqual(writer.head, Buffer.concat([header, ...chunks]).subarray(0, 64 * 1024));
  const handle = writer.takeHandle();
  assert.ok(handle);
  assert.equal(writer.takeHandle(), undefined, "once only");
  assert.equal((await handle.stat()).size, header.length + 70_010, "still open");
  await handle.close();

  const untaken = new StagingWriter({
    stagingPath: async () => join(dir, "untaken.part"),
    header,
    keepOpen: true,
  });
  untaken.end(Buffer.alloc(5));
  await finished(untaken);
  await untaken.discard();
  assert.equal(untaken.takeHandle(), undefined);
  assert.ok(!(await readdir(dir)).includes("untaken.part"));
});
