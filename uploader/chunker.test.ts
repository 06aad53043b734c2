import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { checkFileSizes, readChunks } from "./chunker.ts";
import { tempDir } from "./test-support/fixtures.ts";
import type { OutboundInstance } from "./types.ts";

async function instance(
  dir: string,
  data: Buffer,
  overrides: Partial<OutboundInstance> = {},
): Promise<OutboundInstance> {
  const path = join(dir, `${Math.random()}.dcm`);
  await writeFile(path, data);
  return {
    sopInstanceUid: "1.2.3",
    sopClassUid: "1.2.3",
    transferSyntaxUid: "1.2.840.10008.1.2.1",
    seriesInstanceUid: "1.2",
    size: data.length,
    sha256: createHash("sha256").update(data).digest("hex"),
    path,
    ...overrides,
  };
}

test("chunks cover the file in order at chunkSize, the last one shorter", async () => {
  const dir = await tempDir();
  try {
    const data = randomBytes(2500);
    const chunks = [];
    for await (const chunk of readChunks(await instance(dir.path, data), 1024)) chunks.push(chunk);
    assert.deepEqual(
      chunks.map((c) => [c.offset, c.data.length]),
      [
        [0, 1024],
        [1024, 1024],
        [2048, 452],
      ],
    );
    assert.ok(Buffer.concat(chunks.map((c) => c.data)).equals(data));
  } finally {
    await dir.remove();
  }
});

test("a file that does not hash to its descriptor fails after reading, before any commit", async () => {
  const dir = await tempDir();
  try {
    const bad = await instance(dir.path, randomBytes(3000), { sha256: "0".repeat(64) });
    await assert.rejects(async () => {
      for await (const _ of readChunks(bad, 1024)) {
        // consume
      }
    }, /UPLOAD_HASH_MISMATCH|does not match/);
  } finally {
    await dir.remove();
  }
});

test("size checks name the instance and both sizes; a missing file is unreadable", async () => {
  const dir = await tempDir();
  try {
    const wrong = await instance(dir.path, randomBytes(10), { size: 11 });
    await assert.rejects(checkFileSizes([wrong]), (error: Error & { code?: string }) => {
      assert.equal(error.code, "UPLOAD_SIZE_MISMATCH");
      assert.match(error.message, /1\.2\.3: file has 10 bytes, descriptor says 11/);
      return true;
    });
    const gone = { ...wrong, path: join(dir.path, "nope.dcm") };
    await assert.rejects(checkFileSizes([gone]), { code: "UPLOAD_FILE_UNREADABLE" });
  } finally {
    await dir.remove();
  }
});
