/**
 * Scale-out on an external Mosquitto 2 (issue 5): the reading centre's main process and a chunk
 * worker share the chunk load through the shared subscription `$share/dxgate-rc/…/up/chunk`, both
 * writing into the same staging directory; the main process alone handles manifests and commits.
 * A real gateway, provisioned with add-box (its password in Mosquitto's password file, generated
 * from the box registry), uploads several studies: each is stored exactly once, byte-identical to
 * the box's spool file, every chunk was handled by exactly one of the two processes, and each
 * process handled some.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { writeStudy } from "./fixtures/make-dicom.ts";
import {
  SKIP_WITHOUT_MOSQUITTO,
  startChunkWorker,
  startCountyMosquitto,
  startReadingCentreOnMosquitto,
} from "./support/mosquitto.ts";
import { deferrer, eventually, type LogLine } from "./support/processes.ts";
import {
  provisionBox,
  ReadingCentreClient,
  startGateway,
  storescu,
  type WorklistEntry,
} from "./support/stack.ts";

const CHUNK_SIZE = 16384;
const SHARED_FILTER = "$share/dxgate-rc/dxgate/v1/county/+/up/chunk";

const chunksHandled = (lines: LogLine[]) =>
  lines.filter((l) => l.msg === "message handled" && l.kind === "chunk").length;

describe("scale-out on Mosquitto: the main process and a chunk worker", {
  skip: SKIP_WITHOUT_MOSQUITTO,
}, () => {
  test("share the chunks of several studies: each stored once, byte-identical, no chunk twice", async (t) => {
    const defer = deferrer(t);
    const work = await mkdtemp(join(tmpdir(), "dxgate-scale-"));
    defer(() => rm(work, { recursive: true, force: true }));
    const rcDir = join(work, "rc");
    const mosquitto = await startCountyMosquitto(rcDir);
    defer(() => mosquitto.stop());
    const debug = { DXGATE_LOG_LEVEL: "debug" };
    // DXGATE_RC_SHARED_CHUNKS: the main process's switch for the shared chunk subscription.
    const rc = await startReadingCentreOnMosquitto(rcDir, mosquitto, {
      ...debug,
      DXGATE_RC_SHARED_CHUNKS: "1",
    });
    defer(() => rc.stop());
    const connected = rc.lines.find((l) => l.msg === "mqtt receiver connected");
    assert.ok(
      (connected?.filters as string[] | undefined)?.includes(SHARED_FILTER),
      "the main process takes chunks through the shared subscription",
    );
    const worker = await startChunkWorker(rcDir, mosquitto, { ...debug, DXGATE_RC_WORKER_ID: "w1" });
    defer(() => worker.stop());
    const workerLine = worker.lines.find((l) => l.msg === "mqtt receiver connected");
    assert.deepEqual(workerLine?.filters, [SHARED_FILTER]);

    const box = await provisionBox(rcDir, mosquitto.port);
    const password = decodeURIComponent(new URL(box.DXGATE_BROKER_URL!).password);
    // add-box recorded the Mosquitto-format hash; the generated password file must let the box in.
    await mosquitto.sync({ username: "site-chain", password });
    const gateway = await startGateway(join(work, "gw"), mosquitto.port, 200, {
      ...box,
      DXGATE_UPLOAD_CHUNK_SIZE: String(CHUNK_SIZE),
    });
    defer(() => gateway.stop());
    const county = new ReadingCentreClient(rc.port("http"));
    await county.login();

    const studies = [];
    for (let i = 0; i < 3; i++) {
      const study = await writeStudy(join(work, "in", String(i)), {
        instances: 3,
        rows: 256,
        columns: 512,
        bitsAllocated: 16,
      });
      await storescu(
        gateway.port("dicom"),
        study.files.map((f) => f.path),
      );
      studies.push(study);
    }

    let expectedChunks = 0;
    for (const study of studies) {
      await eventually(
        async () => {
          const res = await fetch(
            `http://127.0.0.1:${gateway.port("http")}/api/studies/${study.studyInstanceUid}`,
          );
          const s = res.status === 200 ? ((await res.json()) as { state: string }) : undefined;
          return s?.state === "delivered" ? s : undefined;
        },
        60_000,
        `study ${study.studyInstanceUid} delivered`,
      );
      const entries = (await county.json<WorklistEntry[]>("/api/worklist")).filter(
        (s) => s.studyInstanceUid === study.studyInstanceUid,
      );
      assert.equal(entries.length, 1, "one worklist entry");
      const detail = await county.json<{ instances: Array<{ sopInstanceUid: string; size: number }> }>(
        `/api/studies/${study.studyInstanceUid}`,
      );
      assert.deepEqual(
        detail.instances.map((i) => i.sopInstanceUid).sort(),
        study.files.map((f) => f.sopInstanceUid).sort(),
        "every instance, each once",
      );
      for (const file of study.files) {
        const res = await county.get(`/api/instances/${file.sopInstanceUid}`);
        assert.equal(res.status, 200);
        const fetched = Buffer.from(await res.arrayBuffer());
        const spooled = await readFile(
          join(work, "gw", "spool", "studies", study.studyInstanceUid, `${file.sopInstanceUid}.dcm`),
        );
        assert.ok(fetched.equals(spooled), "the county's file is byte-identical to the box's");
        expectedChunks += Math.ceil(spooled.length / CHUNK_SIZE);
      }
    }

    const byMain = chunksHandled(rc.lines);
    const byWorker = chunksHandled(worker.lines);
    assert.ok(byMain > 0, `the main process handled chunks (${byMain})`);
    assert.ok(byWorker > 0, `the chunk worker handled chunks (${byWorker})`);
    // One upload attempt per study, every chunk once: handled by exactly one process.
    assert.equal(byMain + byWorker, expectedChunks, `chunks: ${byMain} + ${byWorker}`);
    const attempts = rc.lines.filter((l) => l.msg === "transfer started").length;
    assert.equal(attempts, studies.length, "one transfer per study");
    const receiverPassword = new URL(mosquitto.receiverUrl).password;
    for (const [who, output] of [
      ["main process", rc.output],
      ["chunk worker", worker.output],
    ] as const) {
      assert.ok(!output.join("\n").includes(receiverPassword), `the ${who} never logs its broker password`);
    }
    assert.equal(
      worker.lines.filter((l) => (l.level ?? 0) >= 40).length,
      0,
      `no warnings at the worker: ${worker.output.slice(-5).join("\n")}`,
    );
  });
});
