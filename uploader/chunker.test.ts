import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { checkFileSizes, offeredChunkSize, readChunks } from "./chunker.ts";
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

test("with held ranges only the rest is yielded, cut at chunk boundaries; the whole file is still verified", async () => {
  const dir = await tempDir();
  try {
    const data = randomBytes(5000);
    const held: Array<[number, number]> = [
      [0, 1500],
      [3000, 3100],
      [4096, 5000],
    ];
    const chunks = [];
    for await (const chunk of readChunks(await instance(dir.path, data), 1024, held)) chunks.push(chunk);
    assert.deepEqual(
      chunks.map((c) => [c.offset, c.data.length]),
      [
        [1500, 548],
        [2048, 952],
        [3100, 996],
      ],
    );
    for (const c of chunks) assert.ok(c.data.equals(data.subarray(c.offset, c.offset + c.data.length)));

    // A change inside a held range is not sent, but it is caught.
    const changed = Buffer.from(data);
    changed[10] = changed[10]! ^ 0xff;
    const stale = await instance(dir.path, changed, { sha256: (await instance(dir.path, data)).sha256 });
    await assert.rejects(async () => {
      for await (const _ of readChunks(stale, 1024, held)) {
        // consume
      }
    }, /UPLOAD_HASH_MISMATCH|does not match/);
    // Everything held: nothing to yield, and the file is read all the same.
    const all: unknown[] = [];
    for await (const chunk of readChunks(await instance(dir.path, data), 1024, [[0, 5000]])) all.push(chunk);
    assert.equal(all.length, 0);
  } finally {
    await dir.remove();
  }
});

test("the offered chunk size: the configured one, or on a budget ~250 ms of it (power of two, ≥ 16 KiB)", () => {
  const KIB = 1024;
  assert.equal(offeredChunkSize(256 * KIB), 256 * KIB, "no budget");
  assert.equal(offeredChunkSize(256 * KIB, Number.POSITIVE_INFINITY), 256 * KIB, "unlimited");
  // 2 Mbit/s = 250 000 B/s: 62 500 B in 250 ms → 32 KiB (0.13 s on the wire).
  assert.equal(offeredChunkSize(256 * KIB, 2_000_000 / 8), 32 * KIB);
  // 64 kbit/s: 2 000 B → the 16 KiB floor.
  assert.equal(offeredChunkSize(256 * KIB, 64_000 / 8), 16 * KIB);
  // 100 Mbit/s: the configured size is the ceiling.
  assert.equal(offeredChunkSize(256 * KIB, 100_000_000 / 8), 256 * KIB);
  // A configured size below the floor stays (a broker with a 8 KiB publish limit).
  assert.equal(offeredChunkSize(8 * KIB, 64_000 / 8), 8 * KIB);
  // Exactly a power of two is kept.
  assert.equal(offeredChunkSize(1024 * KIB, 4 * 65_536), 65_536);
});
