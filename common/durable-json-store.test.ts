import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DurableJsonFile } from "./durable-json-store.ts";

test("every write resolves only after a snapshot containing its data is on disk", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-json-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = new DurableJsonFile<{ n: number[] }>(join(dir, "db.json"));
  const data = { n: [] as number[] };
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 50; i++) {
    data.n.push(i);
    const expected = i;
    // When each write resolves, the file must already hold at least its own value.
    writes.push(
      file.write(data).then(async () => {
        const onDisk = JSON.parse(await readFile(join(dir, "db.json"), "utf8")) as { n: number[] };
        assert.ok(onDisk.n.includes(expected), `write ${expected} resolved before it was durable`);
      }),
    );
  }
  await Promise.all(writes);
  assert.deepEqual((await file.read())?.n.length, 50);
  // No temporary files are left behind.
  assert.deepEqual(await readdir(dir), ["db.json"]);
});

test("the caller may mutate the object right after write() without changing what is written", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-json-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = new DurableJsonFile<{ v: string }>(join(dir, "db.json"));
  const data = { v: "first" };
  const pending = file.write(data);
  data.v = "mutated-after";
  await pending;
  assert.equal((await file.read())?.v, "first");
});

test("a missing file reads as null; a write into a missing directory creates it", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-json-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = new DurableJsonFile<{ a: number }>(join(dir, "sub", "db.json"));
  assert.equal(await file.read(), null);
  await file.write({ a: 1 });
  assert.deepEqual(await file.read(), { a: 1 });
});

test("a failed write rejects its callers instead of reporting durability", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-json-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // A path whose parent is a file cannot be created.
  const { writeFile } = await import("node:fs/promises");
  await writeFile(join(dir, "blocker"), "x");
  const file = new DurableJsonFile<{ a: number }>(join(dir, "blocker", "db.json"));
  await assert.rejects(file.write({ a: 1 }));
});
