/**
 * The real uploader against the real reading centre (in-process, its embedded aedes broker with the
 * county's ACL and packet-size guard): a study's preview reaches the county before its data and is
 * served by the county's API. Test only: neither side's code imports the other; they meet over MQTT.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "../common/logger.ts";
import { disposeRc, startRc, waitUntil } from "../reading-centre/testing/harness.ts";
import { createUploader } from "./index.ts";
import { makePreview, makeStudy, tempDir } from "./test-support/fixtures.ts";
import { FAST } from "./test-support/harness.ts";
import { MemoryInbox, MemoryQueue } from "./test-support/memory-ports.ts";

test("an ECG sheet preview goes before the study and the county serves it with the study", async () => {
  const rc = await startRc();
  const dir = await tempDir();
  const queue = new MemoryQueue();
  // The county's broker admits registered boxes only.
  const box = await rc.addBox("township-1");
  const uploader = createUploader({
    brokerUrl: `mqtt://${box.username}:${encodeURIComponent(box.password)}@127.0.0.1:${rc.mqttPort}`,
    signingKey: box.signingKey,
    site: { countyId: "county", siteId: "township-1" },
    queue,
    inbox: new MemoryInbox(),
    log: silentLogger(),
    ...FAST,
  });
  try {
    const { outbound } = await makeStudy(dir.path, [6000, 30_000]);
    const uid = outbound.study.studyInstanceUid;
    const sheet = await makePreview(dir.path, "sheet-1", { size: 120_000 });
    outbound.previews = [{ ...sheet.preview, description: "12-lead sheet" }];
    queue.add(outbound);
    await uploader.start();
    await queue.waitFor((e) => e.kind === "delivered" && e.uid === uid);

    // The receiver handles messages in arrival order: the preview was stored before the transfer began.
    const lines = rc.logs.lines.filter((l) => l.studyInstanceUid === uid);
    const stored = lines.findIndex((l) => l.msg === "preview stored");
    const started = lines.findIndex((l) => l.msg === "transfer started");
    assert.ok(stored >= 0 && started > stored, "preview stored before the transfer started");
    assert.equal(lines[stored]!.studyKnown, false);

    const token = await rc.login();
    const image = await rc.api("GET", `/api/studies/${uid}/previews/sheet-1`, { token });
    assert.equal(image.status, 200);
    assert.equal(image.headers.get("content-type"), "image/png");
    assert.ok(image.bytes.equals(sheet.data));
    await waitUntil(() => rc.logs.find("commit answered", { studyInstanceUid: uid }).length === 1);
    const worklist = (await rc.api("GET", "/api/worklist", { token })).json as Array<Record<string, unknown>>;
    const entry = worklist.find((s) => s.studyInstanceUid === uid);
    assert.equal(entry?.siteId, "township-1");
    assert.equal(entry?.previewCount, 1);
    assert.equal(entry?.firstPreviewId, "sheet-1");
    assert.equal(entry?.instanceCount, 2);
  } finally {
    await uploader.stop();
    await disposeRc(rc);
    await dir.remove();
  }
});
