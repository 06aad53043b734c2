import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { encodeJsonMessage } from "../../uploader/protocol/index.ts";
import { UserStore } from "../auth/users.ts";
import { FakeBox, makeStudy } from "../testing/box.ts";
import { disposeRc, makeDataDir, type RunningRc, startRc, waitUntil } from "../testing/harness.ts";

let rc: RunningRc;
let box: FakeBox;

before(async () => {
  const dataDir = await makeDataDir();
  await (await UserStore.open(dataDir)).setPassword("alice", "alice-password");
  rc = await startRc({ dataDir });
  box = await FakeBox.connect(rc.mqttPort, "site-api");
});
after(async () => {
  await box.end();
  await disposeRc(rc);
});

interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

test("health needs no login; everything else does", async () => {
  assert.deepEqual((await rc.api("GET", "/api/health")).json, { status: "ok" });
  for (const [method, path] of [
    ["GET", "/api/worklist"],
    ["GET", "/api/studies/1.2.3"],
    ["GET", "/api/instances/1.2.3"],
    ["POST", "/api/studies/1.2.3/claim"],
    ["POST", "/api/studies/1.2.3/report"],
    ["GET", "/api/boxes"],
  ] as const) {
    const response = await rc.api(method, path);
    assert.equal(response.status, 401, `${method} ${path}`);
    assert.equal((response.json as ErrorBody).error.code, "AUTH_REQUIRED");
  }
  const forged = await rc.api("GET", "/api/worklist", { token: "ab".repeat(32) });
  assert.equal(forged.status, 401);
});

test("a wrong password or unknown user is a 401; a right one gets a token", async () => {
  const wrong = await rc.api("POST", "/api/login", { body: { username: "alice", password: "nope" } });
  assert.equal(wrong.status, 401);
  assert.equal((wrong.json as ErrorBody).error.code, "AUTH_INVALID");
  const unknown = await rc.api("POST", "/api/login", { body: { username: "mallory", password: "x" } });
  assert.equal(unknown.status, 401);
  const missing = await rc.api("POST", "/api/login", { body: { username: "alice" } });
  assert.equal(missing.status, 400);
  const token = await rc.login("alice", "alice-password");
  assert.match(token, /^[0-9a-f]{64}$/);
  assert.equal((await rc.api("GET", "/api/worklist", { token })).status, 200);
});

test("claim, conflicting claim, report validation, report, and the worklist order", async () => {
  const alice = await rc.login("alice", "alice-password");
  const demo = await rc.login();
  const routine = makeStudy({ sizes: [800], priority: "routine" });
  const stat = makeStudy({ sizes: [800], priority: "stat" });
  assert.equal((await box.sendStudy(routine)).status, "ok");
  assert.equal((await box.sendStudy(stat)).status, "ok");

  const list = (await rc.api("GET", "/api/worklist", { token: alice })).json as Array<
    Record<string, unknown>
  >;
  const uids = list.map((s) => s.studyInstanceUid);
  assert.ok(uids.indexOf(stat.study.studyInstanceUid) < uids.indexOf(routine.study.studyInstanceUid));
  const entry = list.find((s) => s.studyInstanceUid === stat.study.studyInstanceUid)!;
  for (const key of ["studyInstanceUid", "siteId", "modality", "priority", "state", "receivedAt"]) {
    assert.ok(key in entry, key);
  }
  assert.equal(entry.state, "unread");
  assert.equal(entry.modality, "US");

  const uid = stat.study.studyInstanceUid;
  const claim = await rc.api("POST", `/api/studies/${uid}/claim`, { token: alice });
  assert.equal(claim.status, 200);
  assert.equal((claim.json as { claimedBy: string }).claimedBy, "alice");
  assert.equal((await rc.api("POST", `/api/studies/${uid}/claim`, { token: alice })).status, 200);
  const taken = await rc.api("POST", `/api/studies/${uid}/claim`, { token: demo });
  assert.equal(taken.status, 409);
  assert.equal((taken.json as ErrorBody).error.code, "STUDY_CLAIMED");
  assert.equal(
    (
      await rc.api("POST", `/api/studies/${uid}/report`, {
        token: demo,
        body: { findings: "", impression: "", critical: false },
      })
    ).status,
    409,
  );

  const bad = await rc.api("POST", `/api/studies/${uid}/report`, {
    token: alice,
    body: { findings: "x", impression: "y", critical: "yes" },
  });
  assert.equal(bad.status, 400);
  assert.equal((bad.json as ErrorBody).error.details.field, "critical");
  const noFindings = await rc.api("POST", `/api/studies/${uid}/report`, {
    token: alice,
    body: { impression: "y", critical: true },
  });
  assert.equal((noFindings.json as ErrorBody).error.details.field, "findings");

  const report = await rc.api("POST", `/api/studies/${uid}/report`, {
    token: alice,
    body: { findings: "ST elevation", impression: "STEMI", critical: true },
  });
  assert.equal(report.status, 200);
  const detail = (await rc.api("GET", `/api/studies/${uid}`, { token: demo })).json as {
    state: string;
    instances: Array<{ sopInstanceUid: string; sopClassUid: string; size: number }>;
    report: { reportId: string; critical: boolean; reportedBy: string; deliveredAt: string | null };
  };
  assert.equal(detail.state, "reported");
  assert.equal(detail.instances.length, 1);
  assert.equal(detail.instances[0]!.size, 800);
  assert.equal(detail.report.critical, true);
  assert.equal(detail.report.reportedBy, "alice");
  assert.equal(
    (
      await rc.api("POST", `/api/studies/${uid}/report`, {
        token: alice,
        body: { findings: "", impression: "", critical: false },
      })
    ).status,
    409,
  );
});

test("unknown studies and instances are 404 JSON errors", async () => {
  const token = await rc.login();
  const study = await rc.api("GET", "/api/studies/1.2.999", { token });
  assert.equal(study.status, 404);
  assert.equal((study.json as ErrorBody).error.code, "STUDY_NOT_FOUND");
  const instance = await rc.api("GET", "/api/instances/1.2.999", { token });
  assert.equal(instance.status, 404);
  assert.equal((instance.json as ErrorBody).error.code, "INSTANCE_NOT_FOUND");
  assert.equal((await rc.api("GET", "/api/worklist?state=bogus", { token })).status, 400);
});

test("GET /api/boxes: each box's queue figures, online state, last seen and offline since", async () => {
  const token = await rc.login();
  const boxes = async () =>
    ((await rc.api("GET", "/api/boxes", { token })).json as Array<Record<string, unknown>>).find(
      (b) => b.siteId === "site-api",
    );
  await box.publish(
    "status",
    encodeJsonMessage({
      v: 1,
      type: "status",
      sentAt: new Date().toISOString(),
      online: true,
      queueDepth: 4,
      queueBytes: 5_000_000,
      queueStat: 1,
      oldestQueuedAt: "2026-11-24T07:00:00.000Z",
      uploading: "1.2.826.0.1.7",
      statusIntervalMs: 60_000,
    }),
    { retain: true },
  );
  await waitUntil(() => rc.logs.find("box status", { siteId: "site-api", online: true }).length > 0);
  let entry = await boxes();
  for (let tries = 0; entry?.queueBytes !== 5_000_000 && tries < 100; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    entry = await boxes();
  }
  assert.ok(entry);
  assert.equal(entry.queueBytes, 5_000_000);
  assert.equal(entry.online, true);
  assert.equal(entry.stale, false);
  assert.equal(entry.queueDepth, 4);
  assert.equal(entry.queueStat, 1);
  assert.equal(entry.oldestQueuedAt, "2026-11-24T07:00:00.000Z");
  assert.equal(entry.uploading, "1.2.826.0.1.7");
  assert.equal(entry.offlineSince, null);
  assert.equal(entry.lastSeen, entry.receivedAt);

  // What the broker publishes for a box whose link died (its will).
  await box.sendStatus(false);
  await waitUntil(() => rc.logs.find("box status", { siteId: "site-api", online: false }).length > 0);
  entry = await boxes();
  assert.equal(entry?.online, false);
  assert.equal(typeof entry?.offlineSince, "string");
  assert.equal(entry?.uploading, null);
  assert.equal(entry?.queueDepth, 4, "the last figures the box gave stay shown");
});
