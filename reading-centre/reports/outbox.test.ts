import assert from "node:assert/strict";
import { test } from "node:test";
import type { ReportMessage } from "../../uploader/protocol/index.ts";
import { FakeBox, makeStudy } from "../testing/box.ts";
import { disposeRc, type RunningRc, startRc, waitUntil } from "../testing/harness.ts";

const REPORT = { findings: "No pericardial effusion.", impression: "Normal study.", critical: false };

async function reportedStudy(
  rc: RunningRc,
  box: FakeBox,
): Promise<{ uid: string; token: string; reportId: string }> {
  const study = makeStudy({ sizes: [1200] });
  assert.equal((await box.sendStudy(study)).status, "ok");
  const token = await rc.login();
  const uid = study.study.studyInstanceUid;
  const response = await rc.api("POST", `/api/studies/${uid}/report`, { token, body: REPORT });
  assert.equal(response.status, 200);
  return { uid, token, reportId: (response.json as { report: { reportId: string } }).report.reportId };
}

test("a report is delivered to its box, re-sent until acknowledged, then marked delivered", async () => {
  const rc = await startRc({ overrides: { reportRetryMs: 150 } });
  const box = await FakeBox.connect(rc.mqttPort, "site-r1");
  try {
    const { uid, token, reportId } = await reportedStudy(rc, box);
    const report = await box.waitFor<ReportMessage>("report", (m) => m.reportId === reportId);
    assert.equal(report.studyInstanceUid, uid);
    assert.equal(report.findings, REPORT.findings);
    assert.equal(report.impression, REPORT.impression);
    assert.equal(report.critical, false);
    assert.equal(report.reportedBy, "demo");

    // No report-ack yet: it comes again.
    await waitUntil(() => box.count("report") >= 2, 3000, "a re-sent report");

    await box.ackReport(report);
    await waitUntil(() => rc.logs.find("report delivered").length === 1, 3000, "report delivered");
    const study = await rc.api("GET", `/api/studies/${uid}`, { token });
    const stored = (study.json as { state: string; report: { deliveredAt: string | null } }).report;
    assert.equal((study.json as { state: string }).state, "reported");
    assert.ok(stored.deliveredAt);

    // Once acknowledged it is not sent again.
    const sent = box.count("report");
    await new Promise((resolve) => setTimeout(resolve, 450));
    assert.equal(box.count("report"), sent);
  } finally {
    await box.end();
    await disposeRc(rc);
  }
});

test("a refused report-ack keeps the report in the outbox", async () => {
  const rc = await startRc({ overrides: { reportRetryMs: 150 } });
  const box = await FakeBox.connect(rc.mqttPort, "site-r2");
  try {
    const { reportId } = await reportedStudy(rc, box);
    const report = await box.waitFor<ReportMessage>("report", (m) => m.reportId === reportId);
    await box.ackReport(report, "error");
    const before = box.count("report");
    await waitUntil(() => box.count("report") > before, 3000, "a report re-sent after a refusal");
    assert.equal(rc.logs.find("box refused report, will retry").length, 1);
  } finally {
    await box.end();
    await disposeRc(rc);
  }
});

test("a box known offline gets no timed re-sends; coming online sends at once", async () => {
  const rc = await startRc({ overrides: { reportRetryMs: 100 } });
  const box = await FakeBox.connect(rc.mqttPort, "site-r3");
  try {
    await box.sendStatus(false);
    await waitUntil(() => rc.logs.find("box status", { siteId: "site-r3" }).length === 1);
    const { reportId } = await reportedStudy(rc, box);
    await box.waitFor<ReportMessage>("report", (m) => m.reportId === reportId);
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(box.count("report"), 1);
    await box.sendStatus(true, 3);
    await waitUntil(() => box.count("report") === 2, 2000, "the report sent on coming online");

    const token = await rc.login();
    const boxes = await rc.api("GET", "/api/boxes", { token });
    assert.deepEqual(
      (boxes.json as Array<{ siteId: string; online: boolean; queueDepth: number }>)
        .filter((b) => b.siteId === "site-r3")
        .map((b) => [b.online, b.queueDepth]),
      [[true, 3]],
    );
  } finally {
    await box.end();
    await disposeRc(rc);
  }
});

test("a pending report is re-sent after a reading-centre restart", async () => {
  // A long retry: only the restart itself can cause the second delivery within the test.
  const first = await startRc({ overrides: { reportRetryMs: 60_000 } });
  const box1 = await FakeBox.connect(first.mqttPort, "site-r4");
  const { uid, reportId } = await reportedStudy(first, box1);
  await box1.waitFor<ReportMessage>("report", (m) => m.reportId === reportId);
  await box1.end();
  await first.stop();

  const second = await startRc({ dataDir: first.dataDir, overrides: { reportRetryMs: 60_000 } });
  const box2 = await FakeBox.connect(second.mqttPort, "site-r4");
  try {
    // The receiver connected before the box subscribed; the box coming online is what triggers it.
    await box2.sendStatus(true);
    const report = await box2.waitFor<ReportMessage>("report", (m) => m.reportId === reportId);
    assert.equal(report.studyInstanceUid, uid);
    await box2.ackReport(report);
    await waitUntil(() => second.logs.find("report delivered").length === 1);
  } finally {
    await box2.end();
    await disposeRc(second);
  }
});
