/**
 * Issue 3, "Malformed input": the DICOM SCP against thousands of mutated associations.
 *
 * The SCP runs in-process on port 0 with the gateway's real sink (Spool + StudyService, fsync and
 * all). Each case is a valid association built byte by byte (A-ASSOCIATE-RQ, optional C-ECHO, 1–3
 * C-STOREs of fixture datasets, A-RELEASE-RQ), then mutated at one level: the command set, the
 * dataset, the association items, the PDVs, the PDU sequence or the raw bytes (test/support/
 * fuzz-dicom.ts). Cases run over raw sockets, 16 at a time; every 16th case is left valid, and those
 * must succeed while the garbage runs beside them. Afterwards:
 *   - nothing crashed (no uncaught exception or unhandled rejection) and no case hung;
 *   - every C-STORE the SCP acknowledged (status Success/Warning in a C-STORE-RSP we parsed) is in
 *     the spool (valid cases: byte for byte), and names an instance that case really sent;
 *   - the staging directory is empty and no TCP socket is left open;
 *   - every association slot is free again (maxAssociations fresh associations are all accepted);
 *   - DCMTK echoscu and storescu are served.
 *
 * DXGATE_FUZZ_SEED=<n> replays a run (default 12345; "random" picks one and prints it), DXGATE_FUZZ_CASES=<n> scales it (default 2000),
 * DXGATE_FUZZ_ONLY=<case> plays one case of the seed and prints what it sent and got.
 */
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { silentLogger } from "../common/logger.ts";
import { runTool, waitFor } from "../device-drivers/dicom/test-support.ts";
import { createDicomService, type DicomService } from "../device-drivers/index.ts";
import { Spool } from "../gateway/spool/spool.ts";
import { StudyIndex } from "../gateway/studies/study-index.ts";
import { StudyService } from "../gateway/studies/study-service.ts";
import { makeDicomFile } from "./fixtures/make-dicom.ts";
import { datasetOf } from "./support/dicom-bytes.ts";
import {
  associateItemOffsets,
  associateRq,
  buildCase,
  type CaseOutcome,
  cStoreRqElements,
  type DatasetTemplate,
  datasetFor,
  datasetTemplate,
  encodeCommand,
  type FuzzCase,
  fuzzUid,
  PC,
  pDataTf,
  playCase,
  RELEASE_RQ,
  triggersContextRenumbering,
} from "./support/fuzz-dicom.ts";

// A fixed seed by default, so the suite is deterministic in CI; DXGATE_FUZZ_SEED=random explores.
const SEED_SETTING = process.env.DXGATE_FUZZ_SEED ?? "12345";
const SEED = SEED_SETTING === "random" ? randomInt(2 ** 32) : Number(SEED_SETTING) >>> 0;
const CASES = Number(process.env.DXGATE_FUZZ_CASES ?? 2000);
const ONLY = process.env.DXGATE_FUZZ_ONLY === undefined ? undefined : Number(process.env.DXGATE_FUZZ_ONLY);
const PARALLEL = 16;
/** Room for the SCP to notice closed connections a little after we closed them. */
const MAX_ASSOCIATIONS = 4 * PARALLEL;
const IDLE_MS = 250;
const VALID_EVERY = 16;

let dataDir: string;
let spool: Spool;
let studies: StudyService;
let service: DicomService;
let port: number;
const studyUid = fuzzUid(SEED, 0, 8);
const seriesUid = fuzzUid(SEED, 0, 9);
const faults: string[] = [];
/** The known crash: dcmjs-dimse cannot write the A-ASSOCIATE-AC after renumbering contexts past 255. */
const KNOWN_FAULT = /RangeError[\s\S]*AAssociateAC\.write/;
const onUncaught = (error: unknown) => faults.push(`uncaught: ${String((error as Error)?.stack ?? error)}`);
const onUnhandled = (error: unknown) =>
  faults.push(`unhandled rejection: ${String((error as Error)?.stack ?? error)}`);

/**
 * dcmjs-dimse's own copy of dcmjs prints a warning with a stack trace to the console for every
 * malformed command set; the service silences dcmjs-dimse's logger but not that one. Silence it
 * here, or a fuzz run prints thousands of them.
 */
function silenceNestedDcmjs(): void {
  const fromDimse = createRequire(createRequire(import.meta.url).resolve("dcmjs-dimse"));
  const dcmjs = fromDimse("dcmjs") as {
    log: { setLevel(level: string): void; getLogger(name: string): { setLevel(level: string): void } };
  };
  dcmjs.log.setLevel("silent");
  for (const name of ["validation.dcmjs", "AsyncDicomReader"]) dcmjs.log.getLogger(name).setLevel("silent");
}

before(async () => {
  silenceNestedDcmjs();
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUnhandled);
  dataDir = await mkdtemp(join(tmpdir(), "dxgate-fuzz-"));
  spool = new Spool(join(dataDir, "spool"));
  await spool.open();
  const index = new StudyIndex(dataDir);
  await index.open();
  studies = new StudyService({
    spool,
    index,
    log: silentLogger(),
    quietPeriodMs: 600_000,
    defaultPriority: "routine",
    ecgPriority: "urgent",
  });
  service = createDicomService({
    aeTitle: "DXGATE",
    host: "127.0.0.1",
    port: 0,
    sink: studies,
    log: silentLogger(),
    idleTimeoutMs: IDLE_MS,
    associationTimeoutMs: 2 * IDLE_MS,
    admission: { maxAssociations: MAX_ASSOCIATIONS },
  });
  ({ port } = await service.start());
});

after(async () => {
  await service.stop();
  await studies.stop();
  process.off("uncaughtException", onUncaught);
  process.off("unhandledRejection", onUnhandled);
  await rm(dataDir, { recursive: true, force: true });
});

function templates(): DatasetTemplate[] {
  return [
    datasetTemplate("explicit", studyUid, seriesUid, false),
    datasetTemplate("implicit", studyUid, seriesUid, false),
    datasetTemplate("explicit", studyUid, seriesUid, true),
    datasetTemplate("implicit", studyUid, seriesUid, true),
  ];
}

const playOptions = { hangAfterMs: 20 * IDLE_MS + 5_000 };

function openSockets(): number {
  return process.getActiveResourcesInfo().filter((name) => name === "TCPSocketWrap").length;
}

function describe(fuzzCase: FuzzCase): string {
  return `seed ${SEED} case ${fuzzCase.index}: ${fuzzCase.mutations.join("; ") || "valid"}`;
}

test(`fuzz: ${ONLY === undefined ? CASES : 1} mutated associations (DXGATE_FUZZ_SEED=${SEED})`, async () => {
  console.log(`# dicom fuzz seed ${SEED} (replay: DXGATE_FUZZ_SEED=${SEED}), cases ${CASES}`);
  const socketsBefore = openSockets();
  const shapes = templates();
  const indexes = ONLY === undefined ? Array.from({ length: CASES }, (_, i) => i) : [ONLY];
  const results: Array<{ fuzzCase: FuzzCase; outcome: CaseOutcome }> = [];
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < indexes.length) {
      const index = indexes[next] ?? 0;
      next += 1;
      const fuzzCase = buildCase(SEED, index, shapes, VALID_EVERY);
      // A case hitting the known bug gets no answer at all: do not wait the full hang time for it.
      const known = triggersContextRenumbering(Buffer.concat(fuzzCase.chunks.map((c) => c.bytes)));
      const outcome = await playCase(port, fuzzCase, known ? { hangAfterMs: 1_000 } : playOptions);
      results.push({ fuzzCase, outcome });
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const seconds = (performance.now() - started) / 1000;

  if (ONLY !== undefined) {
    const only = results[0];
    console.log(`# ${only ? describe(only.fuzzCase) : "?"}`);
    console.log(`# sent ${only?.fuzzCase.chunks.map((c) => c.bytes.toString("hex")).join(" | ")}`);
    console.log(`# received PDU types ${only?.outcome.pduTypes.join(",")}`);
    console.log(`# C-STORE statuses ${JSON.stringify(only?.outcome.statuses)}`);
  }

  // Nothing acknowledged is lost, and only what the case sent can be acknowledged.
  let acknowledged = 0;
  const problems: string[] = [];
  const knownBugCases: string[] = [];
  const statusCounts = new Map<string, number>();
  // Where each instance landed: a bit flip may turn the dataset's Study Instance UID into another
  // valid UID (a '0' into a '1'), which files the instance under another study — still stored.
  const spooledAt = new Map(
    (await spool.scan()).map((i) => [
      i.attributes.sopInstanceUid,
      spool.instancePath(i.attributes.studyInstanceUid, i.attributes.sopInstanceUid),
    ]),
  );
  for (const { fuzzCase, outcome } of results) {
    for (const { status } of outcome.statuses) {
      const key = `0x${status.toString(16).padStart(4, "0")}`;
      statusCounts.set(key, (statusCounts.get(key) ?? 0) + 1);
    }
    const known = triggersContextRenumbering(Buffer.concat(fuzzCase.chunks.map((c) => c.bytes)));
    if (known) knownBugCases.push(describe(fuzzCase));
    if (outcome.hung && !known) problems.push(`hang: ${describe(fuzzCase)}`);
    for (const uid of outcome.acknowledged) {
      acknowledged += 1;
      if (!fuzzCase.uids.includes(uid)) {
        problems.push(`acknowledged an instance the case never sent (${uid}): ${describe(fuzzCase)}`);
        continue;
      }
      const path = spooledAt.get(uid) ?? spool.instancePath(studyUid, uid);
      const size = await stat(path).then(
        (s) => s.size,
        () => -1,
      );
      if (size <= 132) {
        problems.push(`acknowledged ${uid} is not in the spool: ${describe(fuzzCase)}`);
        continue;
      }
      const sidecar = await stat(path.replace(/\.dcm$/, ".json")).catch(() => undefined);
      if (!sidecar) problems.push(`acknowledged ${uid} has no sidecar: ${describe(fuzzCase)}`);
    }
    if (fuzzCase.valid) {
      for (const uid of fuzzCase.uids) {
        if (!outcome.acknowledged.includes(uid)) {
          problems.push(
            `valid case not acknowledged (${uid}, PDUs ${outcome.pduTypes.join(",")}): ${describe(fuzzCase)}`,
          );
          continue;
        }
        const stored = datasetOf(await readFile(spool.instancePath(studyUid, uid)));
        if (!stored.equals(fuzzCase.datasets.get(uid) ?? Buffer.alloc(0))) {
          problems.push(`valid case stored other bytes than sent (${uid}): ${describe(fuzzCase)}`);
        }
      }
    }
  }
  const valid = results.filter((r) => r.fuzzCase.valid).length;
  console.log(
    `# ${results.length} cases in ${seconds.toFixed(1)} s (${(results.length / seconds).toFixed(0)} cases/s); ` +
      `${valid} valid; ${acknowledged} C-STOREs acknowledged; statuses ${JSON.stringify(Object.fromEntries(statusCounts))}; ` +
      `closed by the SCP ${results.filter((r) => r.outcome.closedByServer).length}`,
  );
  // Everything is closed and cleaned up once the last socket is gone.
  const staging = join(spool.root, "staging");
  await waitFor(async () => (await readdir(staging)).length === 0, 15_000).catch(async () => {
    assert.fail(`staging files left: ${(await readdir(staging)).join(", ")}`);
  });
  await waitFor(() => openSockets() <= socketsBefore, 15_000).catch(() => {
    assert.fail(`TCP sockets left open: ${openSockets()} (before: ${socketsBefore})`);
  });

  // The one known crash (see the todo test below) is counted, not failed; anything else fails.
  const knownFaults = faults.filter((fault) => KNOWN_FAULT.test(fault));
  const otherFaults = faults.filter((fault) => !KNOWN_FAULT.test(fault));
  if (knownBugCases.length > 0) {
    console.log(
      `# known bug (context renumbering) hit by ${knownBugCases.length} cases, e.g. ${knownBugCases[0]}`,
    );
  }
  for (const fault of otherFaults.slice(0, 5)) console.log(`# ${fault.replaceAll("\n", "\n#   ")}`);
  assert.deepEqual(otherFaults, [], "no uncaught exception or unhandled rejection");
  assert.ok(knownFaults.length <= knownBugCases.length, "known faults only from cases that trigger them");
  faults.length = 0;
  assert.deepEqual(problems, []);
  if (ONLY === undefined) assert.ok(acknowledged >= valid, "the valid cases were acknowledged");
});

test("after the fuzz: every association slot is free again", async () => {
  // maxAssociations associations at once must all be accepted: a slot leaked by a mangled
  // association would turn one of them into A-ASSOCIATE-RJ (local-limit-exceeded).
  const peers = await Promise.all(
    Array.from({ length: MAX_ASSOCIATIONS }, () => firstPduType(port, associateRq({ calling: "SLOTCHECK" }))),
  );
  for (const peer of peers) peer.socket.destroy();
  assert.deepEqual(
    peers.map((peer) => peer.type).join(","),
    Array(MAX_ASSOCIATIONS).fill(2).join(","),
    "all A-ASSOCIATE-AC",
  );
});

test("after the fuzz: echoscu and storescu are served", async () => {
  const echo = await runTool("echoscu", ["-aec", "DXGATE", "127.0.0.1", String(port)]);
  assert.equal(echo.code, 0, echo.stderr);
  const file = makeDicomFile({ studyInstanceUid: studyUid });
  const path = join(dataDir, "after-fuzz.dcm");
  await writeFile(path, file.bytes);
  const store = await runTool("storescu", ["-aec", "DXGATE", "127.0.0.1", String(port), path]);
  assert.equal(store.code, 0, store.stderr);
  // storescu re-encodes the dataset on the way (so no byte comparison here); it must be in the spool.
  const stored = await readFile(spool.instancePath(studyUid, file.sopInstanceUid));
  assert.ok(stored.length > 132);
});

// Found by this fuzzer: a legal request dcmjs-dimse cannot take once crashed the process, then was
// closed with no answer; now it is answered (A-ABORT) and nothing else is affected.
test("presentation context ids 255 then 1 (which dcmjs-dimse cannot take) are answered, not a crash", async () => {
  // A legal A-ASSOCIATE-RQ (ids are odd, unique, 1..255; PS3.8 does not order them): Verification
  // as id 255, then US Image Storage as id 1. dcmjs-dimse renumbers the second to 257.
  const rq = associateRq();
  const offsets = associateItemOffsets(rq).filter((at) => rq[at] === 0x20);
  const [first, second] = offsets;
  assert.ok(first !== undefined && second !== undefined);
  rq[first + 4] = 255;
  rq[second + 4] = 1;
  assert.ok(triggersContextRenumbering(rq));
  faults.length = 0;
  const peer = await firstPduType(port, rq, 2_000);
  peer.socket.destroy();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(faults, [], "no unhandled rejection");
  assert.ok(peer.type === 0x02 || peer.type === 0x03 || peer.type === 0x07, `answered (got ${peer.type})`);
});

test("a dataset PDV repeated after its last fragment is answered with A-ABORT", async () => {
  // DXGATE_FUZZ_SEED=12345 case 30 in small: one C-STORE whose (only, last) dataset PDV is sent
  // twice, then A-RELEASE-RQ. Expected: A-RELEASE-RP or an A-ABORT within the idle timeout.
  const template = datasetTemplate("explicit", studyUid, seriesUid, false);
  const uid = fuzzUid(SEED, 99_999_999, 1);
  const dataset = datasetFor(template, uid);
  const command = encodeCommand(cStoreRqElements(1, template.sopClassUid, uid));
  const last = { contextId: PC.explicit, control: 0x02, data: dataset };
  const fuzzCase: FuzzCase = {
    index: -1,
    mutations: ["last dataset PDV sent twice"],
    chunks: [
      { bytes: associateRq(), waitBefore: false },
      { bytes: pDataTf([{ contextId: PC.explicit, control: 0x03, data: command }, last]), waitBefore: true },
      { bytes: pDataTf([last]), waitBefore: false },
      { bytes: RELEASE_RQ, waitBefore: true },
    ],
    uids: [uid],
    valid: false,
    datasets: new Map(),
  };
  const outcome = await playCase(port, fuzzCase, { hangAfterMs: 10 * IDLE_MS + 2_000 });
  assert.equal(outcome.hung, false, `PDUs received: ${outcome.pduTypes.join(",")}`);
  // PS3.8 9.3.8: the P-DATA after the last fragment is an unexpected PDU: A-ABORT, not a C-STORE-RSP.
  assert.deepEqual(outcome.pduTypes, [0x02, 0x07]);
  assert.deepEqual(outcome.acknowledged, []);
});

/** Send an A-ASSOCIATE-RQ and keep the connection open; resolves with the first PDU's type. */
function firstPduType(
  target: number,
  rq: Buffer,
  timeoutMs = 10_000,
): Promise<{ type: number; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(target, "127.0.0.1");
    setTimeout(() => resolve({ type: -1, socket }), timeoutMs).unref();
    let received = Buffer.alloc(0);
    socket.on("error", reject);
    socket.on("connect", () => socket.write(rq));
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 6) resolve({ type: received[0] ?? -1, socket });
    });
    socket.on("close", () => resolve({ type: received[0] ?? -1, socket }));
  });
}
