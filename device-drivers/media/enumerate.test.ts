import assert from "node:assert/strict";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { writeMedium } from "../../test/fixtures/make-medium.ts";
import { enumerateFiles } from "./enumerate.ts";

async function medium(t: { after: (fn: () => Promise<void>) => void }) {
  const root = await mkdtemp(join(tmpdir(), "dxgate-enum-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  return writeMedium(root, { dicomdir: true });
}

test("a DICOMDIR defines the file-set: its records' files, not the other files beside them", async (t) => {
  const { root, valid, truncated } = await medium(t);
  await writeFile(join(root, "DICOM", "NOTES.TXT"), "not referenced");
  const found = await enumerateFiles(root);
  assert.deepEqual(found.fileSets, ["DICOMDIR"]);
  assert.deepEqual(found.files.map((f) => f.relative).sort(), [...valid.keys(), truncated].sort());
  assert.deepEqual(found.problems, []);
});

test("a referenced file that is missing is a problem; File IDs match case-insensitively (FAT)", async (t) => {
  const { root, valid } = await medium(t);
  const [first, second] = [...valid.keys()];
  await rm(join(root, first!));
  // vfat mounted with shortname=lower shows the upper-case names of PS3.10 8.5 in lower case.
  await rename(join(root, "DICOM", "ST000001"), join(root, "DICOM", "st000001"));
  const found = await enumerateFiles(root);
  assert.deepEqual(found.problems, [{ file: first, reason: "listed in DICOMDIR but not on the medium" }]);
  assert.ok(found.files.some((f) => f.relative === second!.replace("ST000001", "st000001")));
});

test("an unreadable DICOMDIR falls back to walking the folders", async (t) => {
  const { root, valid, truncated, other } = await medium(t);
  await writeFile(join(root, "DICOMDIR"), "garbage, not a DICOMDIR");
  const found = await enumerateFiles(root);
  assert.deepEqual(found.unreadableFileSets, ["DICOMDIR"]);
  assert.deepEqual(found.files.map((f) => f.relative).sort(), [...valid.keys(), truncated, other].sort());
});
