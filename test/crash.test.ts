/**
 * Power cuts, as far as a process can tell: `kill -9` at the worst moments. Whatever the moment, an
 * instance acknowledged to the modality reaches the county exactly once, with every instance.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { writeStudy } from "./fixtures/make-dicom.ts";
import { deferrer, eventually, freePort, type RunningProcess } from "./support/processes.ts";
import {
  provisionBox,
  ReadingCentreClient,
  startGateway,
  startReadingCentre,
  storescu,
  type WorklistEntry,
} from "./support/stack.ts";

async function studyAtBox(gateway: RunningProcess, uid: string): Promise<{ state: string } | undefined> {
  const res = await fetch(`http://127.0.0.1:${gateway.port("http")}/api/studies/${uid}`);
  return res.status === 200 ? ((await res.json()) as { state: string }) : undefined;
}

/** Wait until the box says delivered, then check the county holds the study once, complete. */
async function assertArrivedExactlyOnce(
  county: ReadingCentreClient,
  gateway: RunningProcess,
  study: { studyInstanceUid: string; files: Array<{ sopInstanceUid: string }> },
): Promise<void> {
  await eventually(
    async () => {
      const s = await studyAtBox(gateway, study.studyInstanceUid);
      return s?.state === "delivered" ? s : undefined;
    },
    45_000,
    "the study delivered at the box",
  );
  const list = await county.json<WorklistEntry[]>("/api/worklist");
  assert.equal(
    list.filter((s) => s.studyInstanceUid === study.studyInstanceUid).length,
    1,
    "one worklist entry",
  );
  const detail = await county.json<{ instances: Array<{ sopInstanceUid: string }> }>(
    `/api/studies/${study.studyInstanceUid}`,
  );
  assert.deepEqual(
    detail.instances.map((i) => i.sopInstanceUid).sort(),
    study.files.map((f) => f.sopInstanceUid).sort(),
    "every instance, each once",
  );
}

describe("kill -9", () => {
  test("the gateway after C-STORE success, before upload: after restart the study arrives exactly once", async (t) => {
    const defer = deferrer(t);
    const work = await mkdtemp(join(tmpdir(), "dxgate-crash-"));
    const rc = await startReadingCentre(join(work, "rc"));
    defer(() => rm(work, { recursive: true, force: true }));
    defer(() => rc.stop());
    // A long quiet period: the study is acknowledged to the modality but not yet uploaded.
    const box = await provisionBox(join(work, "rc"), rc.port("mqtt"));
    const first = await startGateway(join(work, "gw"), rc.port("mqtt"), 600_000, box);
    defer(() => first.kill());
    const study = await writeStudy(join(work, "in"), { instances: 4 });
    await storescu(
      first.port("dicom"),
      study.files.map((f) => f.path),
    );
    await first.kill();

    const county = new ReadingCentreClient(rc.port("http"));
    await county.login();
    assert.equal(
      (await county.json<WorklistEntry[]>("/api/worklist")).length,
      0,
      "nothing uploaded before the crash",
    );

    const second = await startGateway(join(work, "gw"), rc.port("mqtt"), 200, box);
    defer(() => second.stop());
    await assertArrivedExactlyOnce(county, second, study);
  });

  test("the gateway in the middle of an upload: after restart the study arrives exactly once", async (t) => {
    const defer = deferrer(t);
    const work = await mkdtemp(join(tmpdir(), "dxgate-crash-"));
    const rc = await startReadingCentre(join(work, "rc"));
    defer(() => rm(work, { recursive: true, force: true }));
    defer(() => rc.stop());
    // Small chunks make the upload long enough to be cut: 16 instances of 1 MiB in 16 KiB chunks.
    const box = await provisionBox(join(work, "rc"), rc.port("mqtt"));
    const slow = { ...box, DXGATE_UPLOAD_CHUNK_SIZE: "16384" };
    const first = await startGateway(join(work, "gw"), rc.port("mqtt"), 600_000, slow);
    defer(() => first.kill());
    const study = await writeStudy(join(work, "in"), {
      instances: 16,
      rows: 512,
      columns: 1024,
      bitsAllocated: 16,
    });
    await storescu(
      first.port("dicom"),
      study.files.map((f) => f.path),
    );
    await first.stop();
    const second = await startGateway(join(work, "gw"), rc.port("mqtt"), 0, slow);
    defer(() => second.kill());
    // Cut as soon as the county has the manifest: chunks are in flight, no commit yet.
    await rc.waitForLine((l) => l.msg === "transfer started", 30_000);
    await second.kill();
    const county = new ReadingCentreClient(rc.port("http"));
    await county.login();
    assert.equal(
      (await county.json<WorklistEntry[]>("/api/worklist")).length,
      0,
      "the cut came before the commit",
    );

    const third = await startGateway(join(work, "gw"), rc.port("mqtt"), 0, box);
    defer(() => third.stop());
    await assertArrivedExactlyOnce(county, third, study);
  });

  test("the reading centre in the middle of an upload: after its restart the study arrives exactly once", async (t) => {
    const defer = deferrer(t);
    const work = await mkdtemp(join(tmpdir(), "dxgate-crash-"));
    const ports = { http: await freePort(), mqtt: await freePort() };
    defer(() => rm(work, { recursive: true, force: true }));
    const rc = await startReadingCentre(join(work, "rc"), ports);
    defer(() => rc.kill());
    const box = await provisionBox(join(work, "rc"), ports.mqtt);
    const gateway = await startGateway(join(work, "gw"), ports.mqtt, 0, {
      ...box,
      DXGATE_UPLOAD_CHUNK_SIZE: "16384",
      DXGATE_UPLOAD_ACK_TIMEOUT_MS: "5000",
    });
    defer(() => gateway.stop());
    const study = await writeStudy(join(work, "in"), {
      instances: 16,
      rows: 512,
      columns: 1024,
      bitsAllocated: 16,
    });
    await storescu(
      gateway.port("dicom"),
      study.files.map((f) => f.path),
    );
    await rc.waitForLine((l) => l.msg === "transfer started", 30_000);
    await rc.kill();

    const restarted = await startReadingCentre(join(work, "rc"), ports);
    defer(() => restarted.stop());
    const county = new ReadingCentreClient(ports.http);
    await county.login();
    await assertArrivedExactlyOnce(county, gateway, study);
  });
});
