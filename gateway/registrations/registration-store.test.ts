import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../common/logger.ts";
import { validateRegistrationInput } from "./registration.ts";
import { RegistrationStore } from "./registration-store.ts";

const input = {
  patientId: "P1",
  patientName: "Zhang^San=张^三",
  patientSex: "M" as const,
  patientBirthDate: "19700315",
  modality: "US",
};

test("validation names the offending field", () => {
  const now = new Date(2026, 10, 25, 10);
  const field = (body: unknown) => {
    try {
      validateRegistrationInput(body, now);
      return "ok";
    } catch (error) {
      return (error as { details: { field: string } }).details.field;
    }
  };
  assert.equal(field({ ...input }), "ok");
  assert.equal(field([]), "body");
  assert.equal(field({ ...input, patientId: "" }), "patientId");
  assert.equal(field({ ...input, patientId: "a\\b" }), "patientId");
  assert.equal(field({ ...input, patientSex: "X" }), "patientSex");
  assert.equal(field({ ...input, patientBirthDate: "19700231" }), "patientBirthDate");
  assert.equal(field({ ...input, patientBirthDate: "20300101" }), "patientBirthDate");
  assert.equal(field({ ...input, modality: "u s" }), "modality");
  assert.equal(field({ ...input, accessionNumber: "12345678901234567" }), "accessionNumber");
  assert.equal(field({ ...input, scheduledAt: "tomorrow" }), "scheduledAt");
  assert.equal(field({ ...input, patientNmae: "typo" }), "patientNmae");
  assert.equal(validateRegistrationInput({ ...input, modality: "dx" }, now).modality, "DX");
});

test("identifiers are unique per box, expiry follows the configuration, files survive a restart", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "dxgate-registrations-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  let now = new Date(2026, 10, 25, 9, 30);
  const states = new Map<string, string>();
  const options = {
    dataDir,
    log: silentLogger(),
    expireAtEndOfDay: true,
    retentionHours: 24,
    studyState: (uid: string) => states.get(uid),
    now: () => now,
  };
  const store = new RegistrationStore(options);
  await store.open();
  const [a, b] = await Promise.all([store.create(input), store.create(input)]);
  assert.notEqual(a!.accessionNumber, b!.accessionNumber);
  assert.equal(a!.accessionNumber.slice(0, 7), "A261125");
  assert.notEqual(a!.studyInstanceUid, b!.studyInstanceUid);
  assert.equal(new Date(a!.expiresAt).getTime(), new Date(2026, 10, 26).getTime());
  assert.equal((await store.find({})).length, 2);

  // The study arrives for `a`: in progress, then complete once the study is queued for upload.
  const found = store.match("1.2.3", a!.accessionNumber);
  assert.equal(found?.registrationId, a!.registrationId);
  store.markArrived(found!, "1.2.3");
  assert.equal(store.get(a!.registrationId)?.state, "in-progress");
  states.set("1.2.3", "queued");
  assert.equal(store.get(a!.registrationId)?.state, "completed");
  assert.equal((await store.find({})).length, 1, "completed registrations leave the worklist");

  now = new Date(2026, 10, 26, 0, 0, 1);
  assert.equal(store.get(b!.registrationId)?.state, "expired");
  assert.equal((await store.find({})).length, 0);

  const hours = new RegistrationStore({ ...options, expireAtEndOfDay: false, retentionHours: 2 });
  assert.deepEqual((await hours.open()).registrations, 2);
  const c = await hours.create(input);
  assert.equal(Date.parse(c.expiresAt) - now.getTime(), 2 * 3_600_000);
  assert.ok(![a!.accessionNumber, b!.accessionNumber].includes(c.accessionNumber));
});
