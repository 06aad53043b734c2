import assert from "node:assert/strict";
import { rm, writeFile } from "node:fs/promises";
import { test } from "node:test";
import { startBroker } from "./test-support/broker.ts";
import { delay, makePreview, makeStudy } from "./test-support/fixtures.ts";
import { BOX_CLIENT_ID, world } from "./test-support/harness.ts";

interface LogLine {
  msg: string;
  [key: string]: unknown;
}

async function eventually<T>(find: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error("not found in time");
    await delay(20);
  }
}

function parsed(lines: string[]): LogLine[] {
  return lines.map((line) => JSON.parse(line) as LogLine);
}

test("previews reach the county before the manifest, byte-identical, and the study is delivered", async () => {
  const w = await world({}, true);
  try {
    const { outbound } = await makeStudy(w.dir.path, [3000, 40_000]);
    const uid = outbound.study.studyInstanceUid;
    const sheet = await makePreview(w.dir.path, "sheet-1", { size: 50_000 });
    const svg = await makePreview(w.dir.path, "sheet-1-svg", { mediaType: "image/svg+xml" });
    outbound.previews = [{ ...sheet.preview, description: "12-lead sheet" }, svg.preview];
    w.queue.add(outbound);
    await w.uploader.start();
    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === uid);

    const kinds = w.peer.events.map((e) => e.kind).filter((k) => k !== "status");
    assert.deepEqual(
      kinds.slice(0, 3),
      ["preview", "preview", "manifest"],
      "both previews before the manifest",
    );
    const previews = w.peer.of("preview").map((e) => e.preview);
    assert.deepEqual(
      previews.map((p) => [p.studyInstanceUid, p.previewId, p.mediaType, p.width, p.height]),
      [
        [uid, "sheet-1", "image/png", 40, 30],
        [uid, "sheet-1-svg", "image/svg+xml", 40, 30],
      ],
    );
    assert.equal(previews[0]!.description, "12-lead sheet");
    assert.ok(previews[0]!.data.equals(sheet.data));
    assert.ok(previews[1]!.data.equals(svg.data));

    // The sender logs after the queue recorded the delivery.
    const delivered = await eventually(() => parsed(w.logLines).find((l) => l.msg === "study delivered"));
    assert.equal(delivered.previews, 2);
    assert.equal(
      w.logLines.some((line) => line.includes(w.dir.path)),
      false,
      "no box paths in the logs",
    );
  } finally {
    await w.close();
  }
});

test("a preview that cannot be sent as declared is skipped with a warning; the study still goes", async () => {
  const w = await world({ maxPreviewBytes: 10_000 }, true);
  try {
    const { outbound } = await makeStudy(w.dir.path, [2048]);
    const uid = outbound.study.studyInstanceUid;
    const good = await makePreview(w.dir.path, "sheet-1");
    const missing = await makePreview(w.dir.path, "gone");
    await rm(missing.preview.path);
    const resized = await makePreview(w.dir.path, "resized");
    await writeFile(resized.preview.path, Buffer.concat([resized.data, Buffer.from("more")]));
    const altered = await makePreview(w.dir.path, "altered");
    const flipped = Buffer.from(altered.data);
    flipped[100] = flipped[100]! ^ 0xff;
    await writeFile(altered.preview.path, flipped);
    const big = await makePreview(w.dir.path, "big", { size: 20_000 });
    const mislabelled = await makePreview(w.dir.path, "mislabelled");
    const badId = await makePreview(w.dir.path, "bad");
    outbound.previews = [
      good.preview,
      missing.preview,
      resized.preview,
      altered.preview,
      big.preview,
      { ...mislabelled.preview, mediaType: "image/jpeg" },
      { ...badId.preview, previewId: "../escape" },
      { ...big.preview, previewId: "sheet-1" },
    ];
    w.queue.add(outbound);
    await w.uploader.start();
    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === uid);

    assert.deepEqual(
      w.peer.of("preview").map((e) => e.preview.previewId),
      ["sheet-1"],
    );
    assert.ok(w.peer.of("preview")[0]!.preview.data.equals(good.data));
    const skipped = parsed(w.logLines).filter((l) => l.msg === "preview skipped");
    assert.deepEqual(
      skipped.map((l) => [l.previewId, l.code]),
      [
        ["gone", "PREVIEW_FILE_UNREADABLE"],
        ["resized", "PREVIEW_SIZE_MISMATCH"],
        ["altered", "PREVIEW_HASH_MISMATCH"],
        ["big", "PREVIEW_TOO_LARGE"],
        ["mislabelled", "PROTO_BAD_PREVIEW"],
        ["../escape", "PROTO_BAD_PREVIEW"],
        ["sheet-1", "PREVIEW_DUPLICATE"],
      ],
    );
    assert.ok(skipped.every((l) => l.studyInstanceUid === uid));
    assert.equal(w.queue.of("failed").length, 0, "no attempt failed because of a preview");
  } finally {
    await w.close();
  }
});

test("a retry does not send again the previews the broker already acknowledged", async () => {
  const w = await world();
  try {
    w.peer.behaviour = (_commit, n) => (n === 1 ? "error" : "verify");
    const { outbound } = await makeStudy(w.dir.path, [5000]);
    const uid = outbound.study.studyInstanceUid;
    outbound.previews = [(await makePreview(w.dir.path, "sheet-1")).preview];
    w.queue.add(outbound);
    await w.uploader.start();
    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === uid);

    assert.equal(w.queue.of("failed").length, 1);
    assert.equal(w.peer.of("manifest").length, 2, "two attempts");
    assert.equal(w.peer.of("preview").length, 1, "the preview went once");
  } finally {
    await w.close();
  }
});

test("a broker that lost the box's session (restarted) gets the previews again", async () => {
  const w = await world({ ackTimeoutMs: 1500 });
  let broker = w.broker;
  try {
    const { outbound } = await makeStudy(w.dir.path, [2 * 1024 * 1024]);
    const uid = outbound.study.studyInstanceUid;
    outbound.previews = [(await makePreview(w.dir.path, "sheet-1")).preview];
    w.queue.add(outbound);
    await w.uploader.start();
    await w.peer.waitFor("chunk", () => w.peer.of("chunk").length >= 20);
    await broker.kill();
    // As in connectivity.test.ts: the box is let back in once the reading centre listens again.
    let peerBack = false;
    broker = await startBroker(broker.port, { admit: (id) => id !== BOX_CLIENT_ID || peerBack });
    await w.peer.subscribed(2);
    peerBack = true;
    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === uid, 15_000);

    assert.equal(w.peer.of("manifest").length, 2);
    assert.equal(w.peer.of("preview").length, 2, "the new broker may not have had it: sent again");
    const kinds = w.peer.events.map((e) => e.kind);
    assert.ok(kinds.lastIndexOf("preview") < kinds.lastIndexOf("manifest"));
  } finally {
    await w.uploader.stop();
    await w.peer.close();
    await broker.kill();
    await w.dir.remove();
  }
});

test("a county broker that refuses up/preview costs one attempt; the retry goes without previews", async () => {
  const w = await world({}, false, { refusePublish: (topic) => topic.endsWith("/up/preview") });
  try {
    const { outbound } = await makeStudy(w.dir.path, [5000]);
    const uid = outbound.study.studyInstanceUid;
    outbound.previews = [(await makePreview(w.dir.path, "sheet-1")).preview];
    w.queue.add(outbound);
    await w.uploader.start();
    await w.queue.waitFor((e) => e.kind === "delivered" && e.uid === uid);

    const failed = w.queue.of("failed");
    assert.equal(failed.length, 1);
    assert.match(
      failed[0]!.kind === "failed" ? failed[0]!.reason : "",
      /UPLOAD_CONNECTION_LOST: while sending previews/,
    );
    assert.equal(w.peer.of("preview").length, 0);
    assert.equal(w.peer.of("manifest").length, 1, "the failed attempt sent nothing of the study's data");
    // Delivery needed a working reconnect: the refused preview was dropped from mqtt.js's outgoing
    // store, not re-sent (and refused again) on every reconnect.
    assert.equal(w.uploader.isConnected(), true);
  } finally {
    await w.close();
  }
});

test("sendPreviews: false sends none", async () => {
  const w = await world({ sendPreviews: false });
  try {
    const { outbound } = await makeStudy(w.dir.path, [3000]);
    outbound.previews = [(await makePreview(w.dir.path, "sheet-1")).preview];
    w.queue.add(outbound);
    await w.uploader.start();
    await w.queue.waitFor((e) => e.kind === "delivered");
    assert.equal(w.peer.of("preview").length, 0);
    assert.equal(w.peer.of("manifest").length, 1);
  } finally {
    await w.close();
  }
});
