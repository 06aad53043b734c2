import assert from "node:assert/strict";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../common/logger.ts";
import {
  decodePreview,
  encodePreview,
  MAX_PREVIEWS_PER_STUDY,
  type Preview,
} from "../../uploader/protocol/index.ts";
import { fakePng, previewHeader } from "../testing/box.ts";
import { makeDataDir } from "../testing/harness.ts";
import { PreviewStore } from "./preview-store.ts";

const UID = "1.2.826.0.1.3680043.10.77.1";

function preview(previewId: string, seed: number, uid = UID): Preview {
  const data = fakePng(2000 + seed, seed);
  return decodePreview(encodePreview(previewHeader(uid, previewId, data), data));
}

test("leftovers of an interrupted write are cleaned at open; complete previews load", async () => {
  const root = join(await makeDataDir(), "previews");
  try {
    const store = await PreviewStore.open(root, silentLogger());
    const first = preview("sheet-1", 1);
    assert.equal(await store.put("s1", first), "new");
    assert.equal(await store.put("s1", preview("sheet-2", 2)), "new");
    const dir = join(root, "s1", UID, "sheet-1");
    // A crash between writing a replacement image and its record; a stray temp file.
    await writeFile(join(dir, `${"e".repeat(64)}.bin`), "new image never pointed at");
    await writeFile(join(dir, ".preview.json.abc.tmp"), "{");
    // A crash before the first record of another preview was written.
    await mkdir(join(root, "s1", UID, "sheet-3"));
    await writeFile(join(root, "s1", UID, "sheet-3", `${"f".repeat(64)}.bin`), "x");
    // A record whose image is gone.
    await rm(join(root, "s1", UID, "sheet-2", `${preview("sheet-2", 2).sha256}.bin`));

    const reopened = await PreviewStore.open(root, silentLogger());
    const key = { siteId: "s1", studyInstanceUid: UID };
    assert.deepEqual(
      reopened.list(key).map((p) => p.previewId),
      ["sheet-1"],
    );
    assert.deepEqual((await readdir(dir)).sort(), [`${first.sha256}.bin`, "preview.json"]);
    assert.deepEqual((await readdir(join(root, "s1", UID))).sort(), ["sheet-1"]);
    assert.ok((await reopened.read(reopened.get(key, "sheet-1")!)).equals(first.data));
  } finally {
    await rm(join(root, ".."), { recursive: true, force: true });
  }
});

test("at most MAX_PREVIEWS_PER_STUDY preview ids per study; replacing an existing one still works", async () => {
  const root = join(await makeDataDir(), "previews");
  try {
    const store = await PreviewStore.open(root, silentLogger());
    for (let i = 0; i < MAX_PREVIEWS_PER_STUDY; i++)
      assert.equal(await store.put("s1", preview(`p${i}`, 1)), "new");
    assert.equal(await store.put("s1", preview("one-more", 1)), "limit");
    assert.equal(await store.put("s1", preview("p0", 2)), "replaced");
    // Another study (or the same UID at another site) has its own budget.
    assert.equal(await store.put("s2", preview("one-more", 1)), "new");
    assert.equal(store.list({ siteId: "s1", studyInstanceUid: UID }).length, MAX_PREVIEWS_PER_STUDY);
    assert.deepEqual(store.siteIdsFor(UID).sort(), ["s1", "s2"]);
  } finally {
    await rm(join(root, ".."), { recursive: true, force: true });
  }
});

test("sweepOrphans removes only old previews of studies that never arrived", async () => {
  const root = join(await makeDataDir(), "previews");
  try {
    const store = await PreviewStore.open(root, silentLogger());
    const arrived = "1.2.3.1";
    const orphan = "1.2.3.2";
    await store.put("s1", preview("sheet-1", 1, arrived));
    await store.put("s1", preview("sheet-1", 1, orphan));
    const hasStudy = (key: { studyInstanceUid: string }) => key.studyInstanceUid === arrived;
    const day = 24 * 60 * 60 * 1000;
    assert.equal(await store.sweepOrphans(hasStudy, 30 * day), 0, "too young to go");
    assert.equal(await store.sweepOrphans(hasStudy, 30 * day, Date.now() + 31 * day), 1);
    assert.equal(store.list({ siteId: "s1", studyInstanceUid: orphan }).length, 0);
    assert.equal(store.list({ siteId: "s1", studyInstanceUid: arrived }).length, 1);
    assert.deepEqual(await readdir(join(root, "s1")), [arrived]);
  } finally {
    await rm(join(root, ".."), { recursive: true, force: true });
  }
});
