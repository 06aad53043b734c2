import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../common/logger.ts";
import type { EcgRecord } from "../../device-drivers/index.ts";
import { RegistrationStore } from "../registrations/registration-store.ts";
import { RegistrationEcgContext } from "./ecg-context.ts";

const NOW = new Date(2026, 10, 25, 10, 0);
const ORIGIN = { kind: "serial", devicePath: "/dev/ttyUSB0", profile: "p" } as const;

function record(patient: EcgRecord["patient"] = {}, accessionNumber?: string): EcgRecord {
  return {
    source: { format: "ecg-stream" },
    patient,
    acquisition: accessionNumber ? { accessionNumber } : {},
    rhythm: { samplingFrequencyHz: 500, leads: [] },
  };
}

async function openStore(t: { after: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-ecg-context-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = new RegistrationStore({
    dataDir: dir,
    log: silentLogger(),
    expireAtEndOfDay: true,
    retentionHours: 24,
    now: () => NOW,
  });
  await store.open();
  const register = (
    patientId: string,
    modality = "ECG",
    extra: { accessionNumber?: string; scheduledAt?: Date } = {},
  ) =>
    store.create({
      patientId,
      patientName: `Pat^${patientId}`,
      patientSex: "F",
      patientBirthDate: "19800101",
      modality,
      ...extra,
    });
  return { store, register, context: new RegistrationEcgContext(store, () => NOW) };
}

test("an accession number the record carries links to that registration, whatever the modality", async (t) => {
  const { register, context } = await openStore(t);
  const us = await register("P1", "US", { accessionNumber: "ACC-1" });
  await register("P2");
  const linked = context.contextFor(record({ id: "someone-else" }, "ACC-1"), ORIGIN);
  assert.equal(linked?.registrationId, us.registrationId);
  assert.equal(linked?.studyInstanceUid, us.studyInstanceUid);
  assert.equal(linked?.patientId, "P1");
  assert.equal(linked?.accessionNumber, "ACC-1");
  assert.equal(
    context.contextFor(record({}, "NO-SUCH"), ORIGIN),
    undefined,
    "an unknown accession is not guessed",
  );
});

test("a patient ID links to that patient's newest open ECG registration", async (t) => {
  const { register, context } = await openStore(t);
  await register("P7", "US");
  await register("P7");
  const newest = await register("P7");
  await register("P8");
  assert.equal(context.contextFor(record({ id: "P7" }), ORIGIN)?.registrationId, newest.registrationId);
  assert.equal(context.contextFor(record({ id: "P9" }), ORIGIN), undefined, "no registration: unlinked");
});

test("a stream record without patient takes the single waiting ECG registration of today, once", async (t) => {
  const { register, context } = await openStore(t);
  await register("US-1", "US");
  const yesterday = new Date(NOW.getTime() - 86_400_000);
  await register("OLD", "ECG", { scheduledAt: yesterday }); // expired at midnight
  const waiting = await register("P5");
  const first = context.contextFor(record(), ORIGIN);
  assert.equal(first?.registrationId, waiting.registrationId);
  assert.equal(first?.patientName, "Pat^P5");
  assert.equal(
    context.contextFor(record(), ORIGIN),
    undefined,
    "the next stream ECG is not given the same patient",
  );
});

test("with two ECG registrations waiting, a record without patient is left unregistered", async (t) => {
  const { register, context } = await openStore(t);
  await register("P1");
  await register("P2");
  assert.equal(context.contextFor(record(), ORIGIN), undefined);
});
