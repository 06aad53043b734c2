import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { silentLogger } from "../../common/logger.ts";
import type { InstanceAttributes, ReceivedInstance } from "../../device-drivers/types.ts";
import { FileReportInbox } from "../reports/report-inbox.ts";
import { openStudyService } from "../test-support.ts";

async function setup(t: { after: (fn: () => Promise<void>) => void }, dir?: string, quietPeriodMs = 30) {
  const dataDir = dir ?? (await mkdtemp(join(tmpdir(), "dxgate-studies-")));
  const { spool, index, studies: service } = await openStudyService(dataDir, { quietPeriodMs });
  t.after(async () => {
    await service.stop();
    if (!dir) await rm(dataDir, { recursive: true, force: true });
  });
  return { dataDir, spool, index, service };
}

let counter = 0;
function instance(
  study: string,
  overrides: Partial<InstanceAttributes> = {},
  bytes = randomBytes(3000),
): ReceivedInstance {
  counter += 1;
  return {
    attributes: {
      studyInstanceUid: study,
      seriesInstanceUid: `${study}.1`,
      sopInstanceUid: `${study}.1.${counter}`,
      sopClassUid: "1.2.840.10008.5.1.4.1.1.6.1",
      transferSyntaxUid: "1.2.840.10008.1.2.1",
      modality: "US",
      patientId: "10023",
      patientName: "Zhang^San",
      patientSex: "M",
      patientBirthDate: "19700101",
      patientAge: "056Y",
      studyDate: "20261125",
      studyTime: "101500",
      studyDescription: "Abdomen",
      accessionNumber: "A1",
      ...overrides,
    },
    source: { kind: "dicom", callingAeTitle: "US1", calledAeTitle: "DXGATE", remoteAddress: "127.0.0.1" },
    part10: { kind: "bytes", bytes },
  };
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

test("instances are stored, grouped by study, and queued after the quiet period", async (t) => {
  const { service, spool } = await setup(t);
  const a = instance("1.2.3.1");
  const b = instance("1.2.3.1");
  assert.deepEqual(await service.store(a), { status: "stored" });
  assert.deepEqual(await service.store(b), { status: "stored" });
  const record = service.get("1.2.3.1")!;
  assert.equal(record.state, "stored");
  assert.equal(record.instanceCount, 2);
  assert.ok(record.transitions.received && record.transitions.stored);
  const onDisk = await readFile(spool.instancePath("1.2.3.1", a.attributes.sopInstanceUid));
  assert.ok(
    onDisk.equals(Buffer.from((a.part10 as { bytes: Uint8Array }).bytes)),
    "spool holds the exact bytes",
  );
  assert.equal(await service.next(), undefined, "not ready during the quiet period");
  await sleep(80);
  assert.equal(service.get("1.2.3.1")!.state, "queued");
  const outbound = await service.next();
  assert.equal(outbound?.study.studyInstanceUid, "1.2.3.1");
  assert.equal(outbound?.study.patient.id, "10023");
  assert.deepEqual(
    outbound?.instances.map((i) => i.sha256).sort(),
    [a, b].map((i) => sha((i.part10 as { bytes: Uint8Array }).bytes)).sort(),
  );
  await service.uploading("1.2.3.1");
  assert.equal(service.get("1.2.3.1")!.state, "uploading");
  await service.delivered(
    "1.2.3.1",
    outbound!.instances.map((i) => i.sopInstanceUid),
  );
  const done = service.get("1.2.3.1")!;
  assert.equal(done.state, "delivered");
  assert.deepEqual(Object.keys(done.transitions), ["received", "stored", "queued", "uploading", "delivered"]);
  assert.equal(await service.depth(), 0);
});

test("a resent identical instance is a duplicate; different bytes replace it", async (t) => {
  const { service, spool } = await setup(t);
  const first = instance("1.2.3.2");
  await service.store(first);
  assert.deepEqual(
    await service.store({
      ...first,
      part10: { kind: "bytes", bytes: Buffer.from((first.part10 as { bytes: Uint8Array }).bytes) },
    }),
    {
      status: "duplicate",
    },
  );
  const corrected = Buffer.from("corrected content");
  assert.deepEqual(await service.store({ ...first, part10: { kind: "bytes", bytes: corrected } }), {
    status: "stored",
  });
  assert.equal(service.get("1.2.3.2")!.instanceCount, 1);
  assert.equal(
    service.get("1.2.3.2")!.totalBytes,
    corrected.length,
    "the replaced version's size counts, not both",
  );
  assert.ok(
    (await readFile(spool.instancePath("1.2.3.2", first.attributes.sopInstanceUid))).equals(corrected),
  );
});

test("an instance whose UIDs cannot be stored is refused, not retried", async (t) => {
  const { service } = await setup(t);
  const result = await service.store(instance("../../etc"));
  assert.equal(result.status, "refused");
  assert.equal(result.status === "refused" && result.retryable, false);
  assert.equal(service.list().length, 0);
});

test("ECG studies go before routine studies; a study the sender is backing off is skipped", async (t) => {
  const { service } = await setup(t);
  await service.store(instance("1.2.3.10"));
  await service.store(instance("1.2.3.11", { modality: "ECG" }));
  await sleep(80);
  const first = await service.next();
  assert.equal(first?.study.studyInstanceUid, "1.2.3.11");
  assert.equal(first?.study.priority, "urgent");
  await service.uploading("1.2.3.11");
  await service.failed("1.2.3.11", "no acknowledgement");
  const record = service.get("1.2.3.11")!;
  assert.equal(record.state, "queued");
  assert.equal(record.lastError, "no acknowledgement");
  // The sender excludes the study it is backing off, so the routine study goes next.
  const second = await service.next(new Set(["1.2.3.11"]));
  assert.equal(second?.study.studyInstanceUid, "1.2.3.10");
});

test("after a crash the index is rebuilt from the spool and interrupted uploads are queued again", async (t) => {
  const { dataDir, service } = await setup(t);
  await service.store(instance("1.2.3.20"));
  await service.store(instance("1.2.3.20"));
  await service.store(instance("1.2.3.21"));
  await sleep(80);
  await service.uploading("1.2.3.21");
  await service.stop();

  // Lose the index entirely for one study: the spool is the source of truth.
  const indexPath = join(dataDir, "index", "studies.json");
  const saved = JSON.parse(await readFile(indexPath, "utf8")) as { studies: Record<string, unknown> };
  delete saved.studies["1.2.3.20"];
  await writeFile(indexPath, JSON.stringify(saved));

  const restarted = await setup(t, dataDir, 10_000);
  const result = await restarted.service.reconcile();
  assert.deepEqual(result, { studies: 2, rebuilt: 1, requeued: 1 });
  assert.equal(restarted.service.get("1.2.3.20")!.instanceCount, 2);
  assert.equal(restarted.service.get("1.2.3.20")!.state, "stored");
  assert.equal(restarted.service.get("1.2.3.21")!.state, "queued");
  assert.equal(restarted.service.get("1.2.3.20")!.patient.id, "10023");
});

test("a new instance for a delivered study re-opens it; reconcile re-opens undelivered ones too", async (t) => {
  const { dataDir, service } = await setup(t);
  const first = instance("1.2.3.30");
  await service.store(first);
  await sleep(80);
  await service.uploading("1.2.3.30");
  await service.delivered("1.2.3.30", [first.attributes.sopInstanceUid]);
  await service.store(instance("1.2.3.30"));
  assert.equal(service.get("1.2.3.30")!.state, "stored");
  assert.equal(service.get("1.2.3.30")!.instanceCount, 2);
  await service.stop();
  // Simulate an index that says delivered while the spool has an undelivered instance.
  const indexPath = join(dataDir, "index", "studies.json");
  const saved = JSON.parse(await readFile(indexPath, "utf8")) as {
    studies: Record<string, { state: string }>;
  };
  saved.studies["1.2.3.30"]!.state = "delivered";
  await writeFile(indexPath, JSON.stringify(saved));
  const restarted = await setup(t, dataDir, 10_000);
  await restarted.service.reconcile();
  assert.equal(restarted.service.get("1.2.3.30")!.state, "stored");
});

test("a report is stored durably, marks the delivered study reported, and is idempotent", async (t) => {
  const { dataDir, service } = await setup(t);
  const one = instance("1.2.3.40");
  await service.store(one);
  await sleep(80);
  await service.uploading("1.2.3.40");
  await service.delivered("1.2.3.40", [one.attributes.sopInstanceUid]);
  const inbox = new FileReportInbox(dataDir, service, silentLogger());
  const report = {
    v: 1 as const,
    type: "report" as const,
    sentAt: new Date().toISOString(),
    reportId: "r-1",
    studyInstanceUid: "1.2.3.40",
    findings: "No abnormality",
    impression: "Normal",
    critical: false,
    reportedBy: "dr-li",
    reportedAt: new Date().toISOString(),
  };
  await inbox.accept(report);
  await inbox.accept(report);
  const record = service.get("1.2.3.40")!;
  assert.equal(record.state, "reported");
  assert.equal(record.report?.reportId, "r-1");
  assert.equal(record.report?.impression, "Normal");
  const stored = JSON.parse(await readFile(join(dataDir, "reports", "r-1.json"), "utf8")) as {
    findings: string;
  };
  assert.equal(stored.findings, "No abnormality");
  await assert.rejects(inbox.accept({ ...report, reportId: "../escape" }));
});

test("stored instances reach the index file in one coalesced background save, and stop() flushes it", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "dxgate-studies-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const indexPath = join(dataDir, "index", "studies.json");
  const savedCount = async (uid: string): Promise<number | undefined> => {
    const text = await readFile(indexPath, "utf8").catch(() => undefined);
    if (!text) return undefined;
    const saved = JSON.parse(text) as { studies: Record<string, { instanceCount: number }> };
    return saved.studies[uid]?.instanceCount;
  };
  const open = async (indexSaveDelayMs: number) =>
    (await openStudyService(dataDir, { indexSaveDelayMs })).studies;

  const service = await open(20);
  for (let i = 0; i < 3; i += 1) await service.store(instance("1.2.3.60"));
  while ((await savedCount("1.2.3.60")) !== 3) await sleep(10);
  await service.stop();

  // A save still pending when the service stops is written by stop().
  const again = await open(60_000);
  await again.store(instance("1.2.3.61"));
  await again.stop();
  assert.equal(await savedCount("1.2.3.61"), 1);
});

test("a record rebuilt from the spool finds its registration again", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "dxgate-studies-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const linkRegistration = (a: InstanceAttributes) =>
    a.accessionNumber === "A1" ? "registration-1" : undefined;
  const first = await openStudyService(dataDir, { linkRegistration });
  await first.studies.store(instance("1.2.3.50"));
  assert.equal(first.studies.get("1.2.3.50")?.registrationId, "registration-1");
  await first.studies.stop();
  // The index is lost; the spool and the registration survive.
  await rm(join(dataDir, "index"), { recursive: true, force: true });
  const second = await openStudyService(dataDir, { linkRegistration });
  t.after(() => second.studies.stop());
  await second.studies.reconcile();
  assert.equal(second.studies.get("1.2.3.50")?.registrationId, "registration-1");
});

test("queue port for the sender: peek, preempted, pendingPreviews and stats, by priority then age", async (t) => {
  const { service } = await setup(t);
  const png = (n: number) =>
    Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(n)]);
  const withPreview = (study: string, overrides: Partial<InstanceAttributes> = {}) => ({
    ...instance(study, overrides),
    preview: { mediaType: "image/png" as const, bytes: png(100), width: 40, height: 30 },
  });
  assert.equal(await service.peek(), undefined, "nothing ready yet");
  assert.deepEqual(await service.stats(), { depth: 0, bytes: 0, stat: 0 });

  // Queued in this order: routine (preview), routine (none), urgent ECG (preview), stat (preview).
  await service.store(withPreview("1.2.3.70"));
  await sleep(60);
  await service.store(instance("1.2.3.71"));
  await sleep(60);
  await service.store(withPreview("1.2.3.72", { modality: "ECG" }));
  await sleep(60);
  await service.store({ ...withPreview("1.2.3.73"), priority: "stat" });
  while (service.list().some((r) => r.state !== "queued")) await sleep(10);

  assert.deepEqual(await service.peek(), { studyInstanceUid: "1.2.3.73", priority: "stat" });
  assert.deepEqual(await service.peek(new Set(["1.2.3.73"])), {
    studyInstanceUid: "1.2.3.72",
    priority: "urgent",
  });

  const pending = await service.pendingPreviews();
  assert.deepEqual(
    pending.map((p) => [p.studyInstanceUid, p.priority, p.previews.length]),
    [
      ["1.2.3.73", "stat", 1],
      ["1.2.3.72", "urgent", 1],
      ["1.2.3.70", "routine", 1],
    ],
    "stat, urgent, routine; the study without previews is left out",
  );
  assert.equal(pending[0]!.previews[0]!.size, 108);
  assert.match(pending[0]!.previews[0]!.sha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(
    (await service.pendingPreviews(new Set(["1.2.3.72"]))).map((p) => p.studyInstanceUid),
    ["1.2.3.73", "1.2.3.70"],
  );

  const stats = await service.stats();
  assert.equal(stats.depth, 4);
  assert.equal(stats.stat, 1);
  assert.equal(
    stats.bytes,
    service.list().reduce((sum, r) => sum + r.totalBytes, 0),
  );
  assert.equal(stats.oldestQueuedAt, service.get("1.2.3.70")!.firstInstanceAt);
  assert.equal(JSON.stringify(stats).includes("Zhang"), false, "no patient data");

  // The routine head is preempted: back in the queue, no error, still ahead of the younger routine.
  await service.uploading("1.2.3.70");
  assert.equal((await service.stats()).depth, 4, "a study in transfer still counts");
  const pendingDuring = await service.pendingPreviews();
  assert.equal(
    pendingDuring.some((p) => p.studyInstanceUid === "1.2.3.70"),
    false,
    "the study in transfer sent its own previews",
  );
  const queuedAt = service.get("1.2.3.70")!.transitions.queued;
  await service.preempted("1.2.3.70");
  const back = service.get("1.2.3.70")!;
  assert.equal(back.state, "queued");
  assert.equal(back.lastError, null);
  assert.equal(back.transitions.queued, queuedAt, "keeps its place");
  assert.deepEqual(await service.peek(new Set(["1.2.3.73", "1.2.3.72"])), {
    studyInstanceUid: "1.2.3.70",
    priority: "routine",
  });
  assert.equal((await service.next(new Set(["1.2.3.73", "1.2.3.72"])))?.study.studyInstanceUid, "1.2.3.70");
  // preempted() of a study not in transfer changes nothing.
  await service.preempted("1.2.3.71");
  assert.equal(service.get("1.2.3.71")!.state, "queued");
});
