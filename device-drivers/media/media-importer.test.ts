import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { silentLogger } from "../../common/logger.ts";
import { makeDicomFile } from "../../test/fixtures/make-dicom.ts";
import { treeDigest, writeMedium } from "../../test/fixtures/make-medium.ts";
import { datasetOffset } from "../dicom/part10.ts";
import type { InstanceSink, ReceivedInstance, StoreResult } from "../types.ts";
import { createMediaImporter, type MediaImporterOptions } from "./media-importer.ts";

/** A sink that keeps what it was given in memory: SOP Instance UID → SHA-256 of the Part 10 bytes. */
class MemorySink implements InstanceSink {
  readonly stored = new Map<string, string>();
  readonly sources: ReceivedInstance["source"][] = [];
  calls = 0;
  readonly #dir: string;
  constructor(dir: string) {
    this.#dir = dir;
  }
  async stagingPath(): Promise<string> {
    await mkdir(this.#dir, { recursive: true });
    return join(this.#dir, randomBytes(8).toString("hex"));
  }
  async store(instance: ReceivedInstance): Promise<StoreResult> {
    this.calls += 1;
    assert.equal(instance.part10.kind, "file");
    const path = (instance.part10 as { path: string }).path;
    const sha = createHash("sha256")
      .update(await readFile(path))
      .digest("hex");
    await rm(path);
    this.sources.push(instance.source);
    const uid = instance.attributes.sopInstanceUid;
    if (this.stored.get(uid) === sha) return { status: "duplicate" };
    this.stored.set(uid, sha);
    return { status: "stored" };
  }
}

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-media-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const sink = new MemorySink(join(dir, "staging"));
  const mounts: string[] = [];
  const importer = (options: Partial<MediaImporterOptions> = {}) => {
    const made = createMediaImporter({
      sink,
      log: silentLogger(),
      stateDir: join(dir, "state"),
      folders: [],
      usbMountRoot: join(dir, "media"),
      scanIntervalMs: 3_600_000,
      listMounts: async () => [...mounts],
      ...options,
    });
    t.after(() => made.stop());
    return made;
  };
  return { dir, sink, mounts, importer };
}

test("a stick with a DICOMDIR: each instance imported once, the stick untouched, a re-insert imports nothing", async (t) => {
  const { dir, sink, mounts, importer } = await setup(t);
  const stick = join(dir, "media", "tech", "US_EXPORT");
  const medium = await writeMedium(stick, { dicomdir: true });
  const before = await treeDigest(stick);

  const first = importer();
  await first.start();
  mounts.push(stick);
  await first.scanNow();
  const [job] = first.jobs();
  assert.ok(job);
  assert.equal(job.source, "usb");
  assert.equal(job.path, stick);
  assert.equal(job.state, "done");
  assert.equal(job.found, 4);
  assert.equal(job.imported, 3);
  assert.equal(job.duplicates, 0);
  assert.equal(job.skipped, 0, "README.TXT is not part of the DICOMDIR's file-set");
  assert.equal(job.failed.length, 1);
  assert.equal(job.failed[0]?.file, medium.truncated);
  assert.match(job.failed[0]?.reason ?? "", /malformed DICOM/);
  assert.ok(job.finishedAt);
  assert.deepEqual([...sink.stored.keys()].sort(), [...medium.valid.values()].sort());
  assert.ok(sink.sources.every((source) => source.kind === "file" && source.path.startsWith(stick)));
  assert.equal(await treeDigest(stick), before, "the medium is never modified");

  // Still mounted: later passes start no new job.
  await first.scanNow();
  assert.equal(first.jobs().length, 1);

  // Removed and inserted again: a new job, every instance a duplicate, nothing sent to the sink.
  mounts.length = 0;
  await first.scanNow();
  mounts.push(stick);
  await first.scanNow();
  const [again] = first.jobs();
  assert.notEqual(again?.id, job.id);
  assert.equal(again?.imported, 0);
  assert.equal(again?.duplicates, 3);
  assert.equal(sink.calls, 3);
  await first.stop();

  // After a restart (the ledger is on disk), the same.
  const second = importer();
  await second.start();
  await second.scanNow();
  const [afterRestart] = second.jobs();
  assert.equal(afterRestart?.duplicates, 3);
  assert.equal(afterRestart?.imported, 0);
  assert.equal(sink.calls, 3);
  assert.equal(await treeDigest(stick), before);
});

test("a watched folder: walked without DICOMDIR, bare datasets wrapped, other files skipped quietly, each file once", async (t) => {
  const { dir, sink, importer } = await setup(t);
  const folder = join(dir, "exports");
  const medium = await writeMedium(folder);
  // A bare dataset (no preamble, no file meta), as some older machines export.
  const bare = makeDicomFile({ transferSyntax: "implicit" });
  await writeFile(join(folder, "DICOM", "RAW00001"), bare.bytes.subarray(datasetOffset(bare.bytes)));
  await writeFile(join(folder, "viewer.exe"), randomBytes(4000));
  await writeFile(join(folder, "EMPTY"), "");
  const before = await treeDigest(folder);

  const watcher = importer({ folders: [folder], usbMountRoot: "", stableMs: 100 });
  await watcher.start();
  await watcher.scanNow(); // first sight: nothing is read until it has stayed the same
  assert.equal(watcher.jobs().length, 0);
  await sleep(150);
  await watcher.scanNow();
  const [job] = watcher.jobs();
  assert.equal(job?.source, "folder");
  assert.equal(job?.state, "done");
  assert.equal(job?.found, 5);
  assert.equal(job?.imported, 4);
  assert.equal(job?.skipped, 3, "README.TXT, viewer.exe and EMPTY: counted, not failed");
  assert.deepEqual(job?.failed, [{ file: medium.truncated, reason: job?.failed[0]?.reason }]);
  assert.ok(sink.stored.has(bare.sopInstanceUid));
  for (const uid of medium.valid.values()) assert.ok(sink.stored.has(uid));
  assert.equal(await treeDigest(folder), before);

  // Nothing new: no job, nothing read again (the truncated file stays failed until it changes).
  await sleep(150);
  await watcher.scanNow();
  assert.equal(watcher.jobs().length, 1);
  assert.equal(sink.calls, 4);
});

test("a folder file still being written is imported only after it stops growing", async (t) => {
  const { dir, sink, importer } = await setup(t);
  const folder = join(dir, "incoming");
  await mkdir(folder);
  const file = makeDicomFile({ rows: 64, columns: 64 });
  const path = join(folder, "IM000001");
  const watcher = importer({ folders: [folder], usbMountRoot: "", stableMs: 100 });
  await watcher.start();

  await writeFile(path, file.bytes.subarray(0, 1000));
  await watcher.scanNow();
  await sleep(60);
  await appendFile(path, file.bytes.subarray(1000, 3000));
  await watcher.scanNow();
  await sleep(60);
  await appendFile(path, file.bytes.subarray(3000));
  await watcher.scanNow();
  assert.equal(watcher.jobs().length, 0, "nothing read while it grows");
  assert.equal(sink.calls, 0);

  await sleep(150);
  await watcher.scanNow();
  const [job] = watcher.jobs();
  assert.equal(job?.imported, 1);
  assert.deepEqual(job?.failed, []);
  assert.ok(sink.stored.has(file.sopInstanceUid));
});
