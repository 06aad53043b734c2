/**
 * Link faults between the box and the county (issue 5): the real gateway and reading centre as
 * processes, the gateway's broker connection through the link-fault proxy (test/support/link-proxy.ts),
 * and the link cut at each phase of the transfer protocol (uploader/PROTOCOL.md). The proxy recognises
 * a phase by the MQTT topic in the PUBLISH packets passing (topics travel in clear) and cuts before
 * that packet reaches the other side. Whatever the phase, the study arrives at the county exactly
 * once with every instance, and the report comes back to the box. Also: a half-open stall shorter
 * than the keepalive (the transfer just goes on), one longer than the keepalive (set to 2 s here:
 * the box gives the dead link up, reconnects when it is back, and resumes from what the county
 * holds) and a cut on a throttled, delayed link.
 *
 * Every scenario runs against both brokers the county may use: the embedded aedes, and an external
 * Mosquitto 2 (test/support/mosquitto.ts) whose password and ACL files are generated from the box
 * registry; the reading centre then connects to it as its receiver user, and the box, provisioned
 * with add-box as always, reaches it through the proxy.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { downTopic, upTopic } from "../uploader/protocol/topics.ts";
import { writeStudy } from "./fixtures/make-dicom.ts";
import { type Direction, type LinkProxy, startLinkProxy } from "./support/link-proxy.ts";
import {
  type CountyMosquitto,
  SKIP_WITHOUT_MOSQUITTO,
  startCountyMosquitto,
  startReadingCentreOnMosquitto,
} from "./support/mosquitto.ts";
import { deferrer, eventually, type RunningProcess } from "./support/processes.ts";
import {
  provisionBox,
  ReadingCentreClient,
  startGateway,
  startReadingCentre,
  storescu,
  type WorklistEntry,
} from "./support/stack.ts";

const SITE = { countyId: "county", siteId: "site-chain" };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Stack {
  work: string;
  rc: RunningProcess;
  gateway: RunningProcess;
  proxy: LinkProxy;
  county: ReadingCentreClient;
}

type BrokerKind = "aedes" | "mosquitto";

async function startStack(
  t: { after: (fn: () => Promise<void>) => void },
  broker: BrokerKind = "aedes",
  gatewayEnv: Record<string, string> = {},
): Promise<Stack> {
  const defer = deferrer(t);
  const work = await mkdtemp(join(tmpdir(), "dxgate-link-"));
  defer(() => rm(work, { recursive: true, force: true }));
  const rcDir = join(work, "rc");
  let rc: RunningProcess;
  let brokerPort: number;
  let mosquitto: CountyMosquitto | undefined;
  if (broker === "mosquitto") {
    // The county's own Mosquitto, its password and ACL files generated from the box registry; the
    // reading centre connects to it as the receiver user and embeds no broker.
    const m = await startCountyMosquitto(rcDir);
    mosquitto = m;
    defer(() => m.stop());
    rc = await startReadingCentreOnMosquitto(rcDir, m);
    brokerPort = m.port;
  } else {
    rc = await startReadingCentre(rcDir);
    brokerPort = rc.port("mqtt");
  }
  const stopRc = rc;
  defer(() => stopRc.stop());
  const proxy = await startLinkProxy({ target: { host: "127.0.0.1", port: brokerPort } });
  defer(() => proxy.close());
  // Small chunks, so a study is many PUBLISH packets and a cut can fall between any two.
  // The box's credentials point it at the proxy, not at the broker itself.
  const box = await provisionBox(join(work, "rc"), proxy.port);
  if (mosquitto) {
    // Mosquitto checks the box's password against its own password file, regenerated from the registry.
    const password = decodeURIComponent(new URL(box.DXGATE_BROKER_URL!).password);
    await mosquitto.sync({ username: box.DXGATE_SITE_ID ?? SITE.siteId, password });
  }
  const gateway = await startGateway(join(work, "gw"), proxy.port, 200, {
    ...box,
    DXGATE_UPLOAD_CHUNK_SIZE: "16384",
    ...gatewayEnv,
  });
  defer(() => gateway.stop());
  const county = new ReadingCentreClient(rc.port("http"));
  await county.login();
  // The box is connected through the proxy before anything is sent.
  await gateway.waitForLine((l) => l.msg === "connected to broker");
  return { work, rc, gateway, proxy, county };
}

/**
 * Run `action` (once) from inside the proxy's byte hook when `marker` passes in `direction`, before
 * the piece carrying it is forwarded. The marker may straddle two reads of one connection.
 */
function when(proxy: LinkProxy, direction: Direction, marker: string, action: () => void): Promise<void> {
  const needle = Buffer.from(marker);
  const tails = new Map<number, Buffer>();
  return new Promise((resolve) => {
    const stop = proxy.onBytes(direction, ({ chunk, connection }) => {
      const seen = Buffer.concat([tails.get(connection) ?? Buffer.alloc(0), chunk]);
      if (seen.includes(needle)) {
        stop();
        action();
        resolve();
        return;
      }
      tails.set(connection, seen.subarray(Math.max(0, seen.length - needle.length + 1)));
    });
  });
}

/**
 * Half-open the link once 200 kB of the upload's chunks have crossed it (from the first chunk
 * PUBLISH on); resolves with the bytes forwarded up to then.
 */
function halfOpenMidUpload(proxy: LinkProxy): Promise<number> {
  const chunkTopic = upTopic(SITE, "chunk");
  let from: number | undefined;
  return new Promise((resolve) => {
    const stop = proxy.onBytes("clientToServer", ({ chunk, total }) => {
      if (from === undefined) {
        if (chunk.includes(chunkTopic)) from = total - chunk.length;
        return;
      }
      if (total - from >= 200_000) {
        stop();
        proxy.halfOpen();
        resolve(total);
      }
    });
  });
}

/** Cut the link now and keep it refusing new connections for `ms` (a dead uplink), then bring it back. */
function outage(proxy: LinkProxy, ms: number): Promise<void> {
  proxy.refuse(true);
  proxy.cut();
  return sleep(ms).then(() => proxy.refuse(false));
}

async function studyAtBox(
  gateway: RunningProcess,
  uid: string,
): Promise<{ state: string; report: { impression: string } | null } | undefined> {
  const res = await fetch(`http://127.0.0.1:${gateway.port("http")}/api/studies/${uid}`);
  return res.status === 200
    ? ((await res.json()) as { state: string; report: { impression: string } | null })
    : undefined;
}

async function worklistEntries(county: ReadingCentreClient, uid: string): Promise<WorklistEntry[]> {
  return (await county.json<WorklistEntry[]>("/api/worklist")).filter((s) => s.studyInstanceUid === uid);
}

async function sendStudy(stack: Stack, instances: number) {
  const study = await writeStudy(join(stack.work, "in"), {
    instances,
    rows: 256,
    columns: 512,
    bitsAllocated: 16,
  });
  await storescu(
    stack.gateway.port("dicom"),
    study.files.map((f) => f.path),
  );
  return study;
}

/** Wait until the box says delivered, then check the county holds the study once, complete. */
async function assertArrivedExactlyOnce(
  stack: Stack,
  study: { studyInstanceUid: string; files: Array<{ sopInstanceUid: string }> },
): Promise<void> {
  await eventually(
    async () => {
      const s = await studyAtBox(stack.gateway, study.studyInstanceUid);
      return s?.state === "delivered" ? s : undefined;
    },
    30_000,
    "the study delivered at the box",
  );
  const entries = await worklistEntries(stack.county, study.studyInstanceUid);
  assert.equal(entries.length, 1, "one worklist entry");
  if (entries[0]!.instanceCount !== undefined) assert.equal(entries[0]!.instanceCount, study.files.length);
  const detail = await stack.county.json<{ instances: Array<{ sopInstanceUid: string }> }>(
    `/api/studies/${study.studyInstanceUid}`,
  );
  assert.deepEqual(
    detail.instances.map((i) => i.sopInstanceUid).sort(),
    study.files.map((f) => f.sopInstanceUid).sort(),
    "every instance, each once",
  );
  const stored = stack.rc.lines.filter(
    (l) => l.msg === "commit answered" && l.status === "ok" && l.studyInstanceUid === study.studyInstanceUid,
  );
  assert.ok(stored.length >= 1, "the county logged the commit");
}

/** Post a report at the county and wait until the box shows it. */
async function postReport(stack: Stack, uid: string, impression: string): Promise<void> {
  const posted = await stack.county.post(`/api/studies/${uid}/report`, {
    findings: "No abnormality detected",
    impression,
    critical: false,
  });
  assert.equal(posted.status, 200);
}

async function assertReportAtBox(stack: Stack, uid: string, impression: string): Promise<void> {
  const atBox = await eventually(
    async () => {
      const s = await studyAtBox(stack.gateway, uid);
      return s?.report ? s : undefined;
    },
    20_000,
    "the report at the box",
  );
  assert.equal(atBox.state, "reported");
  assert.equal(atBox.report?.impression, impression);
}

const BROKERS: Array<{ kind: BrokerKind; name: string; skip: string | false }> = [
  { kind: "aedes", name: "the embedded aedes", skip: false },
  { kind: "mosquitto", name: "an external Mosquitto", skip: SKIP_WITHOUT_MOSQUITTO },
];

for (const { kind: broker, name, skip } of BROKERS) {
  describe(`link faults between box and county, on ${name}`, { skip }, () => {
    test("cut mid-chunk, then a 1 s outage: the study arrives once, complete", async (t) => {
      const stack = await startStack(t, broker);
      const chunkTopic = upTopic(SITE, "chunk");
      let chunkBytesFrom: number | undefined;
      let down: Promise<void> = Promise.resolve();
      const cut = new Promise<void>((resolve) => {
        const stop = stack.proxy.onBytes("clientToServer", ({ chunk, total }) => {
          if (chunkBytesFrom === undefined) {
            if (chunk.includes(chunkTopic)) chunkBytesFrom = total - chunk.length;
            return;
          }
          // About 200 KB of chunk traffic has passed: the cut falls inside some chunk's PUBLISH.
          if (total - chunkBytesFrom >= 200_000) {
            stop();
            down = outage(stack.proxy, 1000);
            resolve();
          }
        });
      });
      const study = await sendStudy(stack, 6);
      await cut;
      assert.equal(
        (await worklistEntries(stack.county, study.studyInstanceUid)).length,
        0,
        "the cut came before the commit",
      );
      await down;
      await assertArrivedExactlyOnce(stack, study);
      assert.ok(stack.proxy.stats().connections >= 2, "the box reconnected");
    });

    test("cut after the last chunk, before the commit, then a 1 s outage: the study arrives once, complete", async (t) => {
      const stack = await startStack(t, broker);
      let down: Promise<void> = Promise.resolve();
      const cut = when(stack.proxy, "clientToServer", upTopic(SITE, "commit"), () => {
        down = outage(stack.proxy, 1000);
      });
      const study = await sendStudy(stack, 4);
      await cut;
      await sleep(200);
      assert.equal(
        (await worklistEntries(stack.county, study.studyInstanceUid)).length,
        0,
        "the commit has not reached the county while the link is down",
      );
      await down;
      await assertArrivedExactlyOnce(stack, study);
      assert.ok(stack.proxy.stats().connections >= 2, "the box reconnected");
    });

    test("cut after the commit, before the commit-ack: the study arrives once, complete", async (t) => {
      const stack = await startStack(t, broker);
      let down: Promise<void> = Promise.resolve();
      const cut = when(stack.proxy, "serverToClient", downTopic(SITE, "commit-ack"), () => {
        down = outage(stack.proxy, 1500);
      });
      const study = await sendStudy(stack, 4);
      await cut;
      // The county has stored it; the box has not heard so while the link is down.
      assert.equal((await worklistEntries(stack.county, study.studyInstanceUid)).length, 1);
      assert.notEqual((await studyAtBox(stack.gateway, study.studyInstanceUid))?.state, "delivered");
      await down;
      await assertArrivedExactlyOnce(stack, study);
      assert.ok(stack.proxy.stats().connections >= 2, "the box reconnected");
      // The broker queued the ack in the box's persistent session: no second attempt was needed.
      const attempts = stack.rc.lines.filter(
        (l) => l.msg === "transfer started" && l.studyInstanceUid === study.studyInstanceUid,
      );
      assert.equal(attempts.length, 1, "one transfer: the ack came from the box's session");
    });

    test("cut while a report goes down, and again when its report-ack goes up: the report reaches the box", async (t) => {
      const stack = await startStack(t, broker);
      const study = await sendStudy(stack, 2);
      await assertArrivedExactlyOnce(stack, study);

      const reportCut = when(stack.proxy, "serverToClient", downTopic(SITE, "report"), () =>
        stack.proxy.cut(),
      );
      const ackCut = reportCut.then(() =>
        when(stack.proxy, "clientToServer", upTopic(SITE, "report-ack"), () => stack.proxy.cut()),
      );
      await postReport(stack, study.studyInstanceUid, "Link faults survived");
      await reportCut;
      await ackCut;
      await assertReportAtBox(stack, study.studyInstanceUid, "Link faults survived");
      await stack.rc.waitForLine((l) => l.msg === "report delivered", 20_000);
      assert.ok(stack.proxy.stats().connections >= 3, "the box reconnected after each cut");
      // Still exactly one study at the county, with one report.
      assert.equal((await worklistEntries(stack.county, study.studyInstanceUid)).length, 1);
    });

    test("a half-open mid-upload longer than the keepalive: the box gives the link up, reconnects, resumes; the study arrives once", async (t) => {
      const stack = await startStack(t, broker, { DXGATE_UPLOAD_KEEPALIVE_S: "2" });
      const halted = halfOpenMidUpload(stack.proxy);
      const study = await sendStudy(stack, 6);
      await halted;
      // No PINGRESP within the keepalive: the box closes the silent connection itself (a NAT that
      // forgot the mapping never sends a FIN or RST) and keeps trying to reconnect.
      await stack.gateway.waitForLine(
        (l) => l.msg === "lost the broker connection; reconnecting with backoff",
        20_000,
      );
      stack.proxy.resume();
      await assertArrivedExactlyOnce(stack, study);
      assert.ok(stack.proxy.stats().connections >= 2, "a new connection after the dead one");
      const attempts = stack.rc.lines.filter(
        (l) => l.msg === "transfer started" && l.studyInstanceUid === study.studyInstanceUid,
      );
      assert.ok(attempts.length >= 2, "the stalled attempt was given up and another made");
      assert.ok(
        Number(attempts.at(-1)!.heldBytes) > 0,
        "the new attempt resumed: the county already held what arrived before the stall",
      );
    });

    test("a 4 s half-open mid-upload, shorter than the keepalive: the transfer goes on, the study arrives once", async (t) => {
      const stack = await startStack(t, broker);
      const halted = halfOpenMidUpload(stack.proxy);
      const study = await sendStudy(stack, 6);
      const forwardedAtHalt = await halted;
      await sleep(4000);
      assert.equal(stack.proxy.stats().clientToServer, forwardedAtHalt, "silence while half-open");
      assert.equal((await worklistEntries(stack.county, study.studyInstanceUid)).length, 0);
      stack.proxy.resume();
      await assertArrivedExactlyOnce(stack, study);
      assert.equal(stack.proxy.stats().connections, 1, "the same connection throughout");
      const attempts = stack.rc.lines.filter(
        (l) => l.msg === "transfer started" && l.studyInstanceUid === study.studyInstanceUid,
      );
      assert.equal(attempts.length, 1, "one transfer: a stall is not a failure");
    });

    // The throttled link tests the box and the proxy more than the broker: once is enough (and keeps
    // the suite shorter).
    test("over a slow, delayed link (1 MB/s, 50 ms each way), cut mid-chunk: the study arrives once", {
      skip: broker === "mosquitto" ? "run on the embedded broker only" : false,
    }, async (t) => {
      const stack = await startStack(t, broker);
      stack.proxy.setRate(1_000_000);
      stack.proxy.setDelay(50);
      const chunkTopic = upTopic(SITE, "chunk");
      let from: number | undefined;
      let firstChunkAt = 0;
      const cut = new Promise<number>((resolve) => {
        const stop = stack.proxy.onBytes("clientToServer", ({ chunk, total }) => {
          if (from === undefined) {
            if (chunk.includes(chunkTopic)) {
              from = total - chunk.length;
              firstChunkAt = Date.now();
            }
            return;
          }
          if (total - from >= 500_000) {
            stop();
            stack.proxy.cut();
            resolve(Date.now() - firstChunkAt);
          }
        });
      });
      const study = await sendStudy(stack, 6);
      const ms = await cut;
      // The box has at most a window of chunks (8 × 16 KiB) not yet through the proxy: at least
      // ≈ 320 kB of these 500 kB had to pass the 1 MB/s bucket.
      assert.ok(ms >= 200, `500 kB of chunks reached the proxy in ${ms} ms through a 1 MB/s link`);
      await assertArrivedExactlyOnce(stack, study);
      assert.ok(stack.proxy.stats().connections >= 2, "the box reconnected");
    });
  });
}
