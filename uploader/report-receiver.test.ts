import assert from "node:assert/strict";
import { test } from "node:test";
import type { ReportMessage } from "./protocol/index.ts";
import { delay } from "./test-support/fixtures.ts";
import { SITE, world } from "./test-support/harness.ts";

function report(reportId: string): ReportMessage {
  return {
    v: 1,
    type: "report",
    sentAt: new Date().toISOString(),
    reportId,
    studyInstanceUid: "1.2.3.4",
    findings: "SECRET FINDINGS",
    impression: "SECRET IMPRESSION",
    critical: true,
    reportedBy: "dr-1",
    reportedAt: new Date().toISOString(),
  };
}

test("a report reaches inbox.accept and a report-ack comes back; a re-sent duplicate is acked again", async () => {
  const w = await world({}, true);
  try {
    await w.uploader.start();
    await w.peer.waitFor("status", (e) => e.message.online);
    await w.peer.sendReport(SITE, report("r-1"));

    const ack = await w.peer.waitFor("report-ack", (e) => e.message.reportId === "r-1");
    assert.equal(ack.message.status, "ok");
    assert.equal(ack.message.studyInstanceUid, "1.2.3.4");
    assert.equal(w.inbox.reports.get("r-1")?.findings, "SECRET FINDINGS");

    await w.peer.sendReport(SITE, report("r-1"));
    await w.peer.waitFor("report-ack", () => w.peer.of("report-ack").length === 2);
    assert.equal(w.inbox.reports.size, 1);
    assert.equal(
      w.logLines.some((line) => line.includes("SECRET")),
      false,
      "no report text in the logs",
    );
  } finally {
    await w.close();
  }
});

test("inbox.accept throwing → no report-ack (the reading centre will re-send)", async () => {
  const w = await world();
  try {
    await w.uploader.start();
    await w.peer.waitFor("status", (e) => e.message.online);
    w.inbox.failWith = new Error("disk full");
    await w.peer.sendReport(SITE, report("r-2"));
    await w.inbox.waitForCall("r-2");
    await delay(200);
    assert.equal(w.peer.of("report-ack").length, 0);

    // The re-send after the disk recovers is stored and acknowledged.
    w.inbox.failWith = undefined;
    await w.peer.sendReport(SITE, report("r-2"));
    await w.peer.waitFor("report-ack", (e) => e.message.reportId === "r-2");
  } finally {
    await w.close();
  }
});

test("malformed report payloads are dropped without a crash or an ack", async () => {
  const w = await world();
  try {
    await w.uploader.start();
    await w.peer.waitFor("status", (e) => e.message.online);
    await w.peer.sendReport(SITE, Buffer.from("{not json"));
    await w.peer.sendReport(SITE, Buffer.from(JSON.stringify({ ...report("r-3"), critical: "yes" })));
    await w.peer.sendReport(SITE, Buffer.alloc(2 * 1024 * 1024, 0x20));
    await w.peer.sendReport(SITE, report("r-4"));

    await w.peer.waitFor("report-ack", (e) => e.message.reportId === "r-4");
    assert.deepEqual(w.inbox.calls, ["r-4"]);
    assert.equal(w.peer.of("report-ack").length, 1);
    assert.equal(w.uploader.isConnected(), true);
  } finally {
    await w.close();
  }
});
