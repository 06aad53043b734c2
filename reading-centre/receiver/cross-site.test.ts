/** One box acting on another site's transfer or report, through the real broker: refused and logged CROSS_SITE. */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { encodeChunk, type ReportMessage } from "../../uploader/protocol/index.ts";
import { FakeBox, makeStudy } from "../testing/box.ts";
import { disposeRc, startRc, waitUntil } from "../testing/harness.ts";

test("a chunk, commit or report-ack aimed at another site's transfer or report is refused and logged CROSS_SITE", async () => {
  const rc = await startRc({ overrides: { reportRetryMs: 200 } });
  const owner = await FakeBox.connect(rc.mqttPort, "site-owner");
  const intruder = await FakeBox.connect(rc.mqttPort, "site-intruder");
  try {
    const study = makeStudy({ sizes: [3000] });
    const instance = study.instances[0]!;
    const transferId = `t-${randomUUID()}`;
    await owner.sendManifest(study, transferId);
    await owner.waitManifestAck(transferId);

    // The intruder tries to slip a chunk and a commit into the owner's transfer.
    const forged = Buffer.alloc(instance.bytes.length, 0x41);
    await intruder.publish(
      "chunk",
      encodeChunk({ transferId, sopInstanceUid: instance.descriptor.sopInstanceUid, offset: 0 }, forged),
    );
    const refused = await intruder.sendCommit(study, transferId);
    assert.equal(refused.status, "error");
    assert.equal(refused.error?.code, "UNKNOWN_TRANSFER");
    const chunkWarn = rc.logs.find("chunk refused", { code: "CROSS_SITE", siteId: "site-intruder" });
    assert.equal(chunkWarn.length, 1);
    assert.equal(chunkWarn[0]!.level, 40);
    assert.equal(rc.logs.find("commit refused", { code: "CROSS_SITE", siteId: "site-intruder" }).length, 1);

    // The owner's transfer is untouched: its own bytes, stored under its site.
    await owner.sendChunks(study, transferId);
    assert.equal((await owner.sendCommit(study, transferId)).status, "ok");
    const token = await rc.login();
    const served = await rc.api("GET", `/api/instances/${instance.descriptor.sopInstanceUid}`, { token });
    assert.ok(served.bytes.equals(instance.bytes));

    // A report for the owner: the intruder's report-ack for it does not end its delivery.
    const uid = study.study.studyInstanceUid;
    const posted = await rc.api("POST", `/api/studies/${uid}/report`, {
      token,
      body: { findings: "none", impression: "normal", critical: false },
    });
    assert.equal(posted.status, 200);
    const report = await owner.waitFor<ReportMessage>("report");
    assert.equal(intruder.count("report"), 0);
    await intruder.ackReport(report);
    await waitUntil(
      () => rc.logs.find("report-ack refused", { code: "CROSS_SITE", siteId: "site-intruder" }).length === 1,
      3000,
      "the cross-site report-ack logged",
    );
    assert.equal(rc.logs.find("report delivered").length, 0);
    await owner.ackReport(report);
    await waitUntil(() => rc.logs.find("report delivered").length === 1, 3000, "report delivered");
  } finally {
    await Promise.all([owner.end(), intruder.end()]);
    await disposeRc(rc);
  }
});
