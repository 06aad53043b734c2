import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { ReceivedInstance } from "../../device-drivers/types.ts";
import { receivedInstance } from "../test-support.ts";
import { InvalidInstanceError, Spool } from "./spool.ts";

const instance = (sop: string, part10: ReceivedInstance["part10"]) =>
  receivedInstance({ sopInstanceUid: sop }, part10);

test("open() discards staging files a crash left behind (they were never acknowledged)", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-spool-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const spool = new Spool(dir);
  await spool.open();
  await writeFile(await spool.stagingPath(), "half an instance");
  const again = new Spool(dir);
  assert.deepEqual(await again.open(), { discardedStagingFiles: 1 });
  assert.deepEqual(await readdir(join(dir, "staging")), []);
});

test("a file streamed into staging is moved into the spool with its sidecar; scan() finds it", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-spool-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const spool = new Spool(dir);
  await spool.open();
  const staged = await spool.stagingPath();
  await writeFile(staged, "streamed part 10 bytes");
  const result = await spool.put(
    instance("1.2.840.1.1.1", { kind: "file", path: staged }),
    "2026-11-25T00:00:00.000Z",
  );
  assert.deepEqual(result, { outcome: "stored", size: 22, previousSize: 0 });
  assert.equal(
    await readFile(spool.instancePath("1.2.840.1", "1.2.840.1.1.1"), "utf8"),
    "streamed part 10 bytes",
  );
  assert.deepEqual(await readdir(join(dir, "staging")), [], "the staging file was moved, not copied");
  const [scanned] = await spool.scan();
  assert.equal(scanned?.attributes.sopInstanceUid, "1.2.840.1.1.1");
  assert.equal(scanned?.size, 22);
  assert.equal(scanned?.receivedAt, "2026-11-25T00:00:00.000Z");
  assert.deepEqual(scanned?.source, { kind: "file", path: "/media/usb/1.dcm" });
});

test("concurrent puts of one SOP instance are serialised: one stored, the identical other a duplicate", async () => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-spool-"));
  const spool = new Spool(dir);
  await spool.open();
  const bytes = Buffer.from("same bytes twice");
  const outcomes = await Promise.all([
    spool.put(instance("1.2.840.1.1.2", { kind: "bytes", bytes }), "2026-11-25T00:00:00.000Z"),
    spool.put(instance("1.2.840.1.1.2", { kind: "bytes", bytes }), "2026-11-25T00:00:01.000Z"),
  ]);
  assert.deepEqual(outcomes.map((o) => o.outcome).sort(), ["duplicate", "stored"]);
  assert.equal((await spool.scan()).length, 1);
  const names = await readdir(join(dir, "studies", "1.2.840.1"));
  assert.deepEqual(names.sort(), ["1.2.840.1.1.2.dcm", "1.2.840.1.1.2.json"], "no temporary files left");
  await rm(dir, { recursive: true, force: true });
});

test("UIDs that are not UIDs never become paths", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-spool-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const spool = new Spool(dir);
  await spool.open();
  assert.throws(
    () => spool.put(instance("../../x", { kind: "bytes", bytes: Buffer.from("x") }), ""),
    InvalidInstanceError,
  );
  assert.throws(
    () => spool.put(instance(`1.${"2".repeat(70)}`, { kind: "bytes", bytes: Buffer.from("x") }), ""),
    InvalidInstanceError,
  );
});

test("instances of many studies at once, interleaved, and after close(): every one stored with its sidecar", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-spool-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const spool = new Spool(dir);
  await spool.open();
  const put = (study: number, sop: number) =>
    spool.put(
      receivedInstance(
        { studyInstanceUid: `1.2.840.9.${study}`, sopInstanceUid: `1.2.840.9.${study}.${sop}` },
        { kind: "bytes", bytes: Buffer.from(`study ${study} instance ${sop}`) },
      ),
      "2026-11-25T00:00:00.000Z",
    );
  // More studies than directory descriptors kept open, written concurrently and in turns.
  await Promise.all(Array.from({ length: 12 }, (_, study) => put(study, 1)));
  for (let study = 0; study < 12; study += 1) await put(study, 2);
  await spool.close();
  await put(3, 3); // the spool reopens what it needs after close()
  await spool.close();
  const stored = await spool.scan();
  assert.equal(stored.length, 12 * 2 + 1);
  for (let study = 0; study < 12; study += 1) {
    assert.equal(
      await readFile(spool.instancePath(`1.2.840.9.${study}`, `1.2.840.9.${study}.2`), "utf8"),
      `study ${study} instance 2`,
    );
  }
});
