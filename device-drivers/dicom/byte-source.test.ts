import assert from "node:assert/strict";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { headThenFileSource, TruncatedError } from "./byte-source.ts";

test("reads inside the head cost no open; past it the file is opened once, and closed", async () => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-bytesource-"));
  try {
    const bytes = Uint8Array.from({ length: 300_000 }, (_, index) => index % 251);
    const path = join(dir, "f.bin");
    await writeFile(path, bytes);
    let opened = 0;
    let closed = 0;
    const source = headThenFileSource(bytes.subarray(0, 1000), bytes.length, async () => {
      opened += 1;
      const handle = await open(path, "r");
      const close = handle.close.bind(handle);
      handle.close = async () => {
        closed += 1;
        await close();
      };
      return handle;
    });
    assert.deepEqual(await source.read(10, 20), bytes.subarray(10, 30));
    assert.equal(opened, 0);
    assert.deepEqual(await source.read(990, 20), bytes.subarray(990, 1010));
    assert.deepEqual(await source.read(250_000, 8), bytes.subarray(250_000, 250_008));
    assert.equal(opened, 1);
    await assert.rejects(source.read(bytes.length - 4, 8), TruncatedError);
    await source.close();
    assert.equal(closed, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
