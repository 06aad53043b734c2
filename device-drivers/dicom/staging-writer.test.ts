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
