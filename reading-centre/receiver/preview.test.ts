import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { encodePreview, MAX_PREVIEW_BYTES } from "../../uploader/protocol/index.ts";
import { FakeBox, fakePng, makeStudy, previewHeader } from "../testing/box.ts";
import { disposeRc, type RunningRc, startRc, waitUntil } from "../testing/harness.ts";

let rc: RunningRc;
let token: string;

before(async () => {
  rc = await startRc();
  token = await rc.login();
});
after(async () => disposeRc(rc));

interface PreviewItem {
  previewId: string;
  mediaType: string;
  size: number;
  sha256: string;
  receivedAt: string;
  width?: number;
}

interface ErrorBody {
  error: { code: string; details: Record<string, unknown> };
}

/** Wait until the receiver has handled `count` previews of this site in all (stored or not). */
function handled(siteId: string, count: number): Promise<void> {
  return waitUntil(
    () =>
      rc.logs.find("preview stored", { siteId }).length +
        rc.logs.find("malformed message dropped", { siteId, kind: "preview" }).length >=
      count,
    5000,
    `${count} previews handled for ${siteId}`,
  );
}

async function listPreviews(uid: string, siteId?: string) {
  const query = siteId ? `?siteId=${siteId}` : "";
  return rc.api("GET", `/api/studies/${uid}/previews${query}`, { token });
}

test("a preview sent before its study is stored, served, listed as arriving, then attached to the study", async () => {
  const box = await FakeBox.connect(rc.mqttPort, "site-early");
  try {
    const study = makeStudy({ sizes: [3000] });
    const uid = study.study.studyInstanceUid;
    const png = fakePng(20_000);
    await box.sendPreview(previewHeader(uid, "sheet-1", png, { width: 1123, height: 794 }), png);
    await handled("site-early", 1);
    assert.equal(rc.logs.find("preview stored", { previewId: "sheet-1" })[0]?.studyKnown, false);

    // No study record yet: the study routes do not know it, the preview routes do.
    assert.equal((await rc.api("GET", `/api/studies/${uid}`, { token })).status, 404);
    const list = await listPreviews(uid);
    assert.equal(list.status, 200);
    const items = list.json as PreviewItem[];
    assert.equal(items.length, 1);
    assert.equal(items[0]!.previewId, "sheet-1");
    assert.equal(items[0]!.mediaType, "image/png");
    assert.equal(items[0]!.size, png.length);
    assert.equal(items[0]!.width, 1123);
    assert.ok(!Number.isNaN(Date.parse(items[0]!.receivedAt)));

    const image = await rc.api("GET", `/api/studies/${uid}/previews/sheet-1`, { token });
    assert.equal(image.status, 200);
    assert.equal(image.headers.get("content-type"), "image/png");
    assert.equal(image.headers.get("x-content-type-options"), "nosniff");
    assert.ok(image.bytes.equals(png), "byte for byte");

    const arriving = (await rc.api("GET", "/api/arriving", { token })).json as Array<Record<string, unknown>>;
    const mine = arriving.find((a) => a.studyInstanceUid === uid);
    assert.deepEqual(
      { siteId: mine?.siteId, previewCount: mine?.previewCount, firstPreviewId: mine?.firstPreviewId },
      { siteId: "site-early", previewCount: 1, firstPreviewId: "sheet-1" },
    );

    // The data arrives: the worklist entry carries the preview, and it no longer counts as arriving.
    assert.equal((await box.sendStudy(study)).status, "ok");
    const worklist = (await rc.api("GET", "/api/worklist", { token })).json as Array<Record<string, unknown>>;
    const entry = worklist.find((s) => s.studyInstanceUid === uid)!;
    assert.equal(entry.previewCount, 1);
    assert.equal(entry.firstPreviewId, "sheet-1");
    const detail = (await rc.api("GET", `/api/studies/${uid}`, { token })).json as {
      previews: PreviewItem[];
    };
    assert.deepEqual(
      detail.previews.map((p) => p.previewId),
      ["sheet-1"],
    );
    const after = (await rc.api("GET", "/api/arriving", { token })).json as Array<Record<string, unknown>>;
    assert.equal(
      after.some((a) => a.studyInstanceUid === uid),
      false,
    );
    // A preview never draws an answer: the only down messages are the transfer's manifest-ack and commit-ack.
    assert.deepEqual(
      box.received.map((r) => r.kind),
      ["manifest-ack", "commit-ack"],
    );
  } finally {
    await box.end();
  }
});

test("the same preview again is a no-op; new content under its id replaces it, leaving one file", async () => {
  const box = await FakeBox.connect(rc.mqttPort, "site-idem");
  try {
    const study = makeStudy({ sizes: [1000] });
    const uid = study.study.studyInstanceUid;
    assert.equal((await box.sendStudy(study)).status, "ok");
    const first = fakePng(5000, 1);
    await box.sendPreview(previewHeader(uid, "sheet-1", first), first);
    await box.sendPreview(previewHeader(uid, "sheet-1", first), first);
    await handled("site-idem", 2);
    const outcomes = rc.logs.find("preview stored", { siteId: "site-idem" }).map((l) => l.outcome);
    assert.deepEqual(outcomes, ["new", "unchanged"]);
    const [before] = (await listPreviews(uid)).json as PreviewItem[];

    const second = fakePng(6000, 2);
    await box.sendPreview(previewHeader(uid, "sheet-1", second), second);
    await box.sendPreview(previewHeader(uid, "sheet-2", first), first);
    await handled("site-idem", 4);
    assert.deepEqual(
      rc.logs.find("preview stored", { siteId: "site-idem" }).map((l) => l.outcome),
      ["new", "unchanged", "replaced", "new"],
    );
    const items = (await listPreviews(uid)).json as PreviewItem[];
    assert.deepEqual(
      items.map((p) => [p.previewId, p.size]),
      [
        ["sheet-1", 6000],
        ["sheet-2", 5000],
      ],
    );
    assert.notEqual(items[0]!.sha256, before!.sha256);
    const image = await rc.api("GET", `/api/studies/${uid}/previews/sheet-1`, { token });
    assert.ok(image.bytes.equals(second));
    const dir = join(rc.dataDir, "previews", "site-idem", uid, "sheet-1");
    assert.deepEqual((await readdir(dir)).sort(), [`${items[0]!.sha256}.bin`, "preview.json"]);
    const worklist = (await rc.api("GET", "/api/worklist", { token })).json as Array<Record<string, unknown>>;
    assert.equal(worklist.find((s) => s.studyInstanceUid === uid)?.previewCount, 2);
  } finally {
    await box.end();
  }
});

test("a forged preview (bytes not matching its SHA-256) is refused and logged, and nothing is stored", async () => {
  const box = await FakeBox.connect(rc.mqttPort, "site-forged");
  try {
    const uid = makeStudy().study.studyInstanceUid;
    const png = fakePng(4000);
    const payload = encodePreview(previewHeader(uid, "sheet-1", png), png);
    payload[payload.length - 10] = payload[payload.length - 10]! ^ 0xff;
    await box.publish("preview", payload);
    await box.publish("preview", Buffer.from("DXP1 not really"));
    await handled("site-forged", 2);
    const codes = rc.logs
      .find("malformed message dropped", { siteId: "site-forged", kind: "preview" })
      .map((l) => l.code);
    assert.deepEqual(codes, ["PROTO_PREVIEW_MISMATCH", "PROTO_BAD_PREVIEW"]);
    assert.equal(rc.logs.find("preview stored", { siteId: "site-forged" }).length, 0);
    const list = await listPreviews(uid);
    assert.equal(list.status, 404);
    assert.equal((list.json as ErrorBody).error.code, "STUDY_NOT_FOUND");
  } finally {
    await box.end();
  }
});

test("a preview from another site for a study UID it does not hold never touches that study's previews", async () => {
  const owner = await FakeBox.connect(rc.mqttPort, "site-owner");
  const other = await FakeBox.connect(rc.mqttPort, "site-intruder");
  try {
    const study = makeStudy({ sizes: [1200] });
    const uid = study.study.studyInstanceUid;
    const genuine = fakePng(3000, 5);
    await owner.sendPreview(previewHeader(uid, "sheet-1", genuine), genuine);
    assert.equal((await owner.sendStudy(study)).status, "ok");
    await handled("site-owner", 1);

    const forged = fakePng(3100, 6);
    await other.sendPreview(previewHeader(uid, "sheet-1", forged), forged);
    await other.sendPreview(previewHeader(uid, "sheet-9", forged), forged);
    await handled("site-intruder", 2);
    assert.equal(
      rc.logs.find("preview for a study UID known only from another site; kept apart under its own site", {
        siteId: "site-intruder",
        code: "PREVIEW_OTHER_SITE",
      }).length,
      2,
    );

    // The owner's study still shows exactly its own preview, with or without ?siteId=.
    for (const query of ["", "?siteId=site-owner"]) {
      const items = (await rc.api("GET", `/api/studies/${uid}/previews${query}`, { token }))
        .json as PreviewItem[];
      assert.deepEqual(
        items.map((p) => p.previewId),
        ["sheet-1"],
      );
      const image = await rc.api("GET", `/api/studies/${uid}/previews/sheet-1${query}`, { token });
      assert.ok(image.bytes.equals(genuine), `genuine bytes ${query}`);
    }
    const worklist = (await rc.api("GET", "/api/worklist", { token })).json as Array<Record<string, unknown>>;
    assert.equal(worklist.find((s) => s.studyInstanceUid === uid)?.previewCount, 1);
    // What the other site sent waits under its own site, as an arriving study of that site.
    const theirs = await rc.api("GET", `/api/studies/${uid}/previews/sheet-1?siteId=site-intruder`, {
      token,
    });
    assert.ok(theirs.bytes.equals(forged));
    const arriving = (await rc.api("GET", "/api/arriving", { token })).json as Array<Record<string, unknown>>;
    assert.deepEqual(
      arriving.filter((a) => a.studyInstanceUid === uid).map((a) => a.siteId),
      ["site-intruder"],
    );
  } finally {
    await Promise.all([owner.end(), other.end()]);
  }
});

test("a preview of MAX_PREVIEW_BYTES passes the embedded broker and is stored", async () => {
  const box = await FakeBox.connect(rc.mqttPort, "site-big");
  try {
    const uid = makeStudy().study.studyInstanceUid;
    const png = fakePng(MAX_PREVIEW_BYTES, 3);
    await box.sendPreview(previewHeader(uid, "sheet-1", png, { description: "缩略图".repeat(300) }), png);
    await handled("site-big", 1);
    const image = await rc.api("GET", `/api/studies/${uid}/previews/sheet-1`, { token });
    assert.equal(image.status, 200);
    assert.equal(image.bytes.length, MAX_PREVIEW_BYTES);
  } finally {
    await box.end();
  }
});

test("preview routes need a login, answer 404 for unknown ids, revalidate by ETag and sandbox SVG", async () => {
  const box = await FakeBox.connect(rc.mqttPort, "site-http");
  try {
    const uid = makeStudy().study.studyInstanceUid;
    assert.equal((await rc.api("GET", `/api/studies/${uid}/previews`)).status, 401);
    assert.equal((await rc.api("GET", `/api/studies/${uid}/previews/sheet-1`)).status, 401);
    assert.equal((await rc.api("GET", "/api/arriving")).status, 401);

    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect/></svg>');
    await box.sendPreview(previewHeader(uid, "sheet-1", svg, { mediaType: "image/svg+xml" }), svg);
    await handled("site-http", 1);
    const missing = await rc.api("GET", `/api/studies/${uid}/previews/sheet-2`, { token });
    assert.equal(missing.status, 404);
    assert.equal((missing.json as ErrorBody).error.code, "PREVIEW_NOT_FOUND");
    assert.equal((await listPreviews(uid, "site-elsewhere")).status, 404);

    const image = await rc.api("GET", `/api/studies/${uid}/previews/sheet-1`, { token });
    assert.equal(image.headers.get("content-type"), "image/svg+xml");
    assert.match(image.headers.get("content-security-policy") ?? "", /sandbox/);
    assert.match(image.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    const etag = image.headers.get("etag")!;
    const response = await fetch(`http://127.0.0.1:${rc.httpPort}/api/studies/${uid}/previews/sheet-1`, {
      headers: { authorization: `Bearer ${token}`, "if-none-match": etag },
    });
    assert.equal(response.status, 304);
    assert.equal((await response.arrayBuffer()).byteLength, 0);
  } finally {
    await box.end();
  }
});

test("previews survive a reading-centre restart", async () => {
  const first = await startRc();
  const uid = makeStudy().study.studyInstanceUid;
  const png = fakePng(7000, 9);
  const box1 = await FakeBox.connect(first.mqttPort, "site-restart");
  await box1.sendPreview(previewHeader(uid, "sheet-1", png), png);
  await waitUntil(() => first.logs.find("preview stored").length === 1);
  await box1.end();
  await first.stop();

  const second = await startRc({ dataDir: first.dataDir });
  try {
    assert.equal(second.logs.find("preview store loaded")[0]?.previews, 1);
    const secondToken = await second.login();
    const image = await second.api("GET", `/api/studies/${uid}/previews/sheet-1`, { token: secondToken });
    assert.ok(image.bytes.equals(png));
  } finally {
    await disposeRc(second);
  }
});
