/**
 * Priority on the box (PROTOCOL.md "Priority, preemption, previews lane"): a real aedes broker, the
 * fake county (answers manifest-acks with what it holds, and commit-acks), the real uploader, and a
 * queue with the whole port (peek, preempted, pendingPreviews, stats).
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { createLogger } from "../common/logger.ts";
import { createUploader, type Uploader, type UploaderOptions } from "./index.ts";
import { type BrokerOptions, startBroker, type TestBroker } from "./test-support/broker.ts";
import { FakeReadingCentre, type PeerEvent } from "./test-support/fake-reading-centre.ts";
import { makePreview, makeStudy, type TempDir, tempDir } from "./test-support/fixtures.ts";
import { FAST, SITE } from "./test-support/harness.ts";
import { MemoryInbox } from "./test-support/memory-ports.ts";
import { PriorityQueue } from "./test-support/priority-queue.ts";

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

interface PriorityWorld {
  broker: TestBroker;
  peer: FakeReadingCentre;
  queue: PriorityQueue;
  dir: TempDir;
  uploader: Uploader;
  logs(): LogLine[];
  close(): Promise<void>;
}

async function priorityWorld(
  overrides: Partial<UploaderOptions> = {},
  brokerOptions: BrokerOptions = {},
): Promise<PriorityWorld> {
  const broker = await startBroker(0, brokerOptions);
  const peer = await FakeReadingCentre.start(broker.url, SITE.countyId);
  const queue = new PriorityQueue();
  const dir = await tempDir();
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  const uploader = createUploader({
    brokerUrl: broker.url,
    site: SITE,
    queue,
    inbox: new MemoryInbox(),
    log: createLogger({ name: "test", level: "debug", destination }),
    ...FAST,
    ...overrides,
  });
  return {
    broker,
    peer,
    queue,
    dir,
    uploader,
    logs: () => lines.map((line) => JSON.parse(line) as LogLine),
    async close() {
      await uploader.stop();
      await peer.close();
      await broker.kill();
      await dir.remove();
    },
  };
}

/** Where in the county's event log the first event matching `predicate` is (-1 when none). */
function indexOf(events: PeerEvent[], predicate: (event: PeerEvent) => boolean): number {
  return events.findIndex(predicate);
}

const manifestOf = (uid: string) => (e: PeerEvent) =>
  e.kind === "manifest" && e.message.study.studyInstanceUid === uid;
const commitOf = (uid: string) => (e: PeerEvent) => e.kind === "commit" && e.message.studyInstanceUid === uid;
const previewOf = (uid: string) => (e: PeerEvent) =>
  e.kind === "preview" && e.preview.studyInstanceUid === uid;

test("a stat study preempts a routine one at a chunk boundary; the routine one resumes and nothing acknowledged is sent again", async () => {
  // 2 Mbit/s: the routine study takes seconds, so the stat one comes while it is in transfer.
  const w = await priorityWorld({ bandwidth: { kbps: 2000 } });
  try {
    const routine = await makeStudy(w.dir.path, [300_000, 200_000]);
    const stat = await makeStudy(w.dir.path, [20_000]);
    stat.outbound.previews = [(await makePreview(w.dir.path, "sheet-1")).preview];
    const routineUid = routine.outbound.study.studyInstanceUid;
    const statUid = stat.outbound.study.studyInstanceUid;
    w.queue.add(routine.outbound, "routine");
    await w.uploader.start();

    await w.peer.waitFor("chunk", () => w.peer.of("chunk").length >= 4);
    w.queue.add(stat.outbound, "stat");
    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === statUid);
    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === routineUid);

    const events = w.peer.events;
    // The county has the stat study's preview, then its data, before the routine study's commit.
    assert.ok(indexOf(events, previewOf(statUid)) < indexOf(events, manifestOf(statUid)));
    assert.ok(indexOf(events, commitOf(statUid)) < indexOf(events, commitOf(routineUid)));
    assert.equal(w.peer.of("commit").filter((e) => e.message.studyInstanceUid === routineUid).length, 1);

    // The routine attempt was abandoned (not failed), then the study was sent to the end.
    assert.deepEqual(w.queue.historyOf(routineUid), ["uploading", "preempted", "uploading", "delivered"]);
    assert.deepEqual(w.queue.historyOf(statUid), ["uploading", "delivered"]);
    assert.equal(w.queue.events.filter((e) => e.kind === "failed").length, 0, "no failure anywhere");
    const preempted = w.logs().filter((l) => l.msg === "upload preempted");
    assert.equal(preempted.length, 1);
    assert.equal(preempted[0]!.level, 30, "logged at info");
    assert.equal(preempted[0]!.studyInstanceUid, routineUid);
    assert.equal(preempted[0]!.preemptedBy, statUid);
    assert.equal(
      w.logs().some((l) => l.msg === "upload attempt failed; the study stays queued"),
      false,
    );

    // The second attempt's manifest-ack listed what the first delivered; none of it went again.
    const routineManifests = w.peer
      .of("manifest")
      .filter((e) => e.message.study.studyInstanceUid === routineUid);
    assert.equal(routineManifests.length, 2);
    const [first, second] = routineManifests.map((e) => e.message.transferId);
    const ack = w.peer.of("manifest-ack").find((e) => e.message.transferId === second)!;
    assert.ok(ack.message.held.length > 0, "the county holds part of the study");
    const chunksOf = (transferId: string | undefined) =>
      new Set(
        w.peer
          .of("chunk")
          .filter((c) => c.transferId === transferId)
          .map((c) => `${c.sopInstanceUid}@${c.offset}`),
      );
    const before = chunksOf(first);
    const after = chunksOf(second);
    assert.ok(before.size > 0);
    assert.deepEqual(
      [...before].filter((chunk) => after.has(chunk)),
      [],
      "no chunk of the first attempt sent again",
    );
    for (const [sop, data] of routine.bytes) {
      assert.ok(w.peer.stored.get(routineUid)?.get(sop)?.equals(data), `${sop} byte-identical`);
    }
  } finally {
    await w.close();
  }
});

test("a head that wins a preemption but cannot be sent preempts once, not forever", async () => {
  const w = await priorityWorld({ bandwidth: { kbps: 4000 } });
  try {
    const routine = await makeStudy(w.dir.path, [300_000]);
    const ghost = await makeStudy(w.dir.path, [1000]);
    const routineUid = routine.outbound.study.studyInstanceUid;
    w.queue.add(routine.outbound, "routine");
    await w.uploader.start();
    await w.peer.waitFor("chunk", () => w.peer.of("chunk").length >= 4);
    w.queue.unsendable.add(ghost.outbound.study.studyInstanceUid);
    w.queue.add(ghost.outbound, "stat");
    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === routineUid);
    assert.deepEqual(w.queue.historyOf(routineUid), ["uploading", "preempted", "uploading", "delivered"]);
  } finally {
    await w.close();
  }
});

test("a study of the same or lower priority never preempts the one in transfer", async () => {
  const w = await priorityWorld({ bandwidth: { kbps: 4000 } });
  try {
    const urgent = await makeStudy(w.dir.path, [400_000]);
    const routine = await makeStudy(w.dir.path, [5000]);
    const otherUrgent = await makeStudy(w.dir.path, [5000]);
    w.queue.add(urgent.outbound, "urgent");
    await w.uploader.start();
    await w.peer.waitFor("chunk", () => w.peer.of("chunk").length >= 4);
    w.queue.add(routine.outbound, "routine");
    w.queue.add(otherUrgent.outbound, "urgent");
    for (const { outbound } of [urgent, routine, otherUrgent]) {
      await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === outbound.study.studyInstanceUid);
    }
    assert.deepEqual(
      w.peer.of("commit").map((e) => e.message.studyInstanceUid),
      [urgent, otherUrgent, routine].map((s) => s.outbound.study.studyInstanceUid),
      "by priority then age, the one in transfer first",
    );
    assert.equal(w.queue.events.filter((e) => e.kind === "preempted").length, 0);
    assert.ok(w.queue.peeks > 0, "the transfer did look at the queue");
  } finally {
    await w.close();
  }
});

test("previews of every queued study go before any study's data, stat first, each once", async () => {
  const w = await priorityWorld();
  try {
    const studies = [];
    for (const priority of ["routine", "routine", "stat"] as const) {
      const study = await makeStudy(w.dir.path, [40_000]);
      study.outbound.previews = [(await makePreview(w.dir.path, "sheet-1")).preview];
      w.queue.add(study.outbound, priority);
      studies.push(study.outbound.study.studyInstanceUid);
    }
    const [routine1, routine2, stat] = studies as [string, string, string];
    await w.uploader.start();
    for (const uid of studies) await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === uid);

    const kinds = w.peer.events.filter((e) => e.kind === "preview" || e.kind === "manifest");
    assert.deepEqual(
      kinds.map((e) =>
        e.kind === "preview"
          ? `preview ${e.preview.studyInstanceUid}`
          : `manifest ${e.message.study.studyInstanceUid}`,
      ),
      [
        `preview ${stat}`,
        `preview ${routine1}`,
        `preview ${routine2}`,
        `manifest ${stat}`,
        `manifest ${routine1}`,
        `manifest ${routine2}`,
      ],
    );
  } finally {
    await w.close();
  }
});

test("previews of studies that become ready during a transfer go at the next chunk boundary, without abandoning it", async () => {
  const w = await priorityWorld({ bandwidth: { kbps: 2000 } });
  try {
    const first = await makeStudy(w.dir.path, [400_000]);
    first.outbound.previews = [(await makePreview(w.dir.path, "sheet-1")).preview];
    const firstUid = first.outbound.study.studyInstanceUid;
    w.queue.add(first.outbound, "routine");
    await w.uploader.start();
    await w.peer.waitFor("chunk", () => w.peer.of("chunk").length >= 4);

    const later = [];
    for (let i = 0; i < 2; i += 1) {
      const study = await makeStudy(w.dir.path, [10_000]);
      study.outbound.previews = [
        (await makePreview(w.dir.path, "sheet-1")).preview,
        (await makePreview(w.dir.path, "sheet-2", { mediaType: "image/svg+xml" })).preview,
      ];
      w.queue.add(study.outbound, "routine");
      later.push(study.outbound.study.studyInstanceUid);
    }
    for (const uid of [firstUid, ...later]) {
      await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === uid);
    }

    const events = w.peer.events;
    const firstCommit = indexOf(events, commitOf(firstUid));
    for (const uid of later) {
      const previews = events.filter(previewOf(uid));
      assert.equal(previews.length, 2, "each preview once");
      assert.ok(events.lastIndexOf(previews[1]!) < firstCommit, "before the study in transfer finished");
    }
    // The second study's manifest comes after all three studies' previews.
    const secondManifest = indexOf(events, manifestOf(later[0]!));
    assert.ok(events.filter((e) => e.kind === "preview").every((e) => events.indexOf(e) < secondManifest));
    assert.equal(
      w.peer.of("manifest").filter((e) => e.message.study.studyInstanceUid === firstUid).length,
      1,
    );
    assert.equal(w.queue.events.filter((e) => e.kind === "preempted" || e.kind === "failed").length, 0);
  } finally {
    await w.close();
  }
});

test("a refused manifest holds the study back at least the county's retryAfterMs; other studies still go", async () => {
  const w = await priorityWorld({ retry: { baseMs: 20, maxMs: 50 } });
  try {
    const refused = await makeStudy(w.dir.path, [5000]);
    const other = await makeStudy(w.dir.path, [5000]);
    const refusedUid = refused.outbound.study.studyInstanceUid;
    w.peer.manifestAck = (manifest, n) =>
      manifest.study.studyInstanceUid === refusedUid && n === 1
        ? { kind: "error", code: "QUOTA_EXCEEDED", retryAfterMs: 1500 }
        : { kind: "ok" };
    w.queue.add(refused.outbound, "stat");
    w.queue.add(other.outbound, "routine");
    await w.uploader.start();
    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === refusedUid);
    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === other.outbound.study.studyInstanceUid);

    const failed = w.logs().find((l) => l.msg === "upload attempt failed; the study stays queued")!;
    assert.equal(failed.code, "UPLOAD_REFUSED");
    assert.ok(
      (failed.retryInMs as number) > 1000,
      `the sender held it ${failed.retryInMs} ms, not its 20–50 ms backoff`,
    );
    // The stat study waited its hint; the routine one did not wait behind it.
    assert.deepEqual(
      w.peer.of("commit").map((e) => e.message.studyInstanceUid),
      [other.outbound.study.studyInstanceUid, refusedUid],
    );
  } finally {
    await w.close();
  }
});

test("a county broker that refuses up/preview: the lane rests, every study still arrives, one lost connection each at most", async () => {
  const w = await priorityWorld({}, { refusePublish: (topic) => topic.endsWith("/up/preview") });
  try {
    const uids: string[] = [];
    for (const priority of ["stat", "routine", "routine"] as const) {
      const study = await makeStudy(w.dir.path, [5000]);
      study.outbound.previews = [(await makePreview(w.dir.path, "sheet-1")).preview];
      w.queue.add(study.outbound, priority);
      uids.push(study.outbound.study.studyInstanceUid);
    }
    await w.uploader.start();
    for (const uid of uids) await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === uid);

    assert.equal(w.peer.of("preview").length, 0);
    const failed = w.queue.events.filter((e) => e.kind === "failed");
    assert.ok(failed.length <= uids.length, `${failed.length} failed attempts for ${uids.length} studies`);
    for (const event of failed)
      assert.match(event.kind === "failed" ? event.reason : "", /UPLOAD_CONNECTION_LOST/);
    assert.equal(w.uploader.isConnected(), true);
  } finally {
    await w.close();
  }
});

test("the box's status carries its queue figures and the study in transfer, and follows the queue", async () => {
  const w = await priorityWorld({ bandwidth: { kbps: 2000 }, statusIntervalMs: 60_000 });
  try {
    const first = await makeStudy(w.dir.path, [600_000]);
    const second = await makeStudy(w.dir.path, [2000]);
    const uids = [first, second].map((s) => s.outbound.study.studyInstanceUid);
    w.queue.add(first.outbound, "urgent");
    await w.uploader.start();
    const online = await w.peer.waitFor("status", (e) => e.message.online);
    assert.equal(online.message.queueDepth, 1);
    assert.equal(online.message.queueBytes, 600_000);
    assert.equal(online.message.queueStat, 0);
    assert.equal(online.message.oldestQueuedAt, first.outbound.study.receivedAt);
    assert.equal(online.message.statusIntervalMs, 60_000);

    await w.peer.waitFor("chunk", () => w.peer.of("chunk").length >= 2);
    w.queue.add(second.outbound, "routine");
    // Announced without waiting for the status interval (a minute here).
    const busy = await w.peer.waitFor("status", (e) => e.message.queueDepth === 2);
    assert.equal(busy.message.queueBytes, 602_000);
    assert.ok(uids.includes(busy.message.uploading ?? ""), "the study in transfer, by UID");
    for (const uid of uids) await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === uid);
    const idle = await w.peer.waitFor("status", (e) => e.message.queueDepth === 0);
    assert.equal(idle.message.uploading, undefined);
    assert.equal(JSON.stringify(w.peer.of("status")).includes("TEST^PATIENT"), false, "no patient data");
  } finally {
    await w.close();
  }
});
