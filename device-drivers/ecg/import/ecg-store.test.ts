import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "../../../common/logger.ts";
import type { EcgRegistration, InstanceSink, ReceivedInstance, StoreResult } from "../../types.ts";
import { readDicomEcg } from "../dicom/index.ts";
import { generateSyntheticEcg } from "../stream/index.ts";
import { contentUids } from "./content-uids.ts";
import { createEcgStore } from "./ecg-store.ts";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const SERIAL = { kind: "serial", devicePath: "/dev/ttyUSB0", profile: "generic-scp-ecg-usb-serial" } as const;

function memorySink(
  answers: StoreResult[] = [],
): InstanceSink & { stored: ReceivedInstance[]; offers: number } {
  const sink = {
    stored: [] as ReceivedInstance[],
    offers: 0,
    async store(instance: ReceivedInstance): Promise<StoreResult> {
      sink.offers += 1;
      const answer = answers.shift() ?? { status: "stored" };
      if (answer.status !== "refused") sink.stored.push(instance);
      return answer;
    },
    async stagingPath(): Promise<string> {
      throw new Error("not used");
    },
  };
  return sink;
}

const REGISTRATION: EcgRegistration = {
  registrationId: "reg-1",
  studyInstanceUid: "2.25.1234567",
  patientId: "P-0815",
  patientName: "李^娜",
  patientSex: "F",
  patientBirthDate: "19750302",
  accessionNumber: "A2611250001",
  requestedProcedureId: "RP2611250001",
  scheduledProcedureStepId: "SPS2611250001",
  studyDescription: "静息心电图",
};

test("a record becomes a DICOM ECG with its samples, handed to the sink with its priority and a PNG preview", async () => {
  const record = generateSyntheticEcg({ seconds: 10, patient: { id: "CART-7", name: "Wang^Wu", sex: "M" } });
  const sink = memorySink();
  const store = createEcgStore({ sink, log: silentLogger(), stationName: "township-health-centre-01" });
  const outcome = await store.store(record, SERIAL, { priority: "stat" });
  assert.equal(outcome.status, "stored");
  assert.equal(outcome.registrationId, undefined);
  assert.equal(sink.stored.length, 1);
  const [instance] = sink.stored;
  assert.equal(instance!.priority, "stat");
  assert.deepEqual(instance!.source, SERIAL);
  assert.equal(instance!.attributes.modality, "ECG");
  assert.equal(instance!.attributes.patientId, "CART-7");
  assert.equal(instance!.attributes.sopInstanceUid, outcome.sopInstanceUid);
  assert.deepEqual([...instance!.preview!.bytes.subarray(0, 8)], PNG_SIGNATURE);
  assert.deepEqual([instance!.preview!.width, instance!.preview!.height], [1754, 1240]);
  assert.equal(instance!.part10.kind, "bytes");
  const back = readDicomEcg((instance!.part10 as { bytes: Uint8Array }).bytes);
  for (const lead of record.rhythm.leads) {
    const got = back.rhythm.leads.find((l) => l.name === lead.name);
    assert.ok(got, `lead ${lead.name}`);
    const physical = (samples: Int32Array, nv: number) => Array.from(samples, (s) => s * nv);
    assert.deepEqual(
      physical(got.samples, got.nanovoltsPerUnit),
      physical(lead.samples, lead.nanovoltsPerUnit),
    );
  }
});

test("a registration replaces the device's patient and puts the ECG in the registration's study", async () => {
  const record = generateSyntheticEcg({ seconds: 2, patient: { id: "typed-at-cart", name: "Wrong^Name" } });
  const sink = memorySink();
  const store = createEcgStore({ sink, log: silentLogger(), context: { contextFor: () => REGISTRATION } });
  const outcome = await store.store(record, SERIAL);
  assert.equal(outcome.registrationId, "reg-1");
  const a = sink.stored[0]!.attributes;
  assert.deepEqual(
    [a.studyInstanceUid, a.patientId, a.patientName, a.patientSex, a.patientBirthDate, a.accessionNumber],
    ["2.25.1234567", "P-0815", "李^娜", "F", "19750302", "A2611250001"],
  );
});

test("the same source bytes give the same UIDs; a registration's study UID still wins", async () => {
  const record = generateSyntheticEcg({ seconds: 2 });
  const sha = "ab".repeat(32);
  const sink = memorySink();
  const store = createEcgStore({ sink, log: silentLogger(), preview: false });
  const first = await store.store(record, SERIAL, { sourceSha256: sha });
  const second = await store.store(record, SERIAL, { sourceSha256: sha });
  assert.equal(first.sopInstanceUid, contentUids(sha).sopInstanceUid);
  assert.equal(second.sopInstanceUid, first.sopInstanceUid);
  assert.equal(first.studyInstanceUid, contentUids(sha).studyInstanceUid);
  assert.match(first.sopInstanceUid!, /^2\.25\.[1-9]\d{0,38}$/);
  assert.notEqual(contentUids(sha).sopInstanceUid, contentUids("cd".repeat(32)).sopInstanceUid);

  const linked = createEcgStore({
    sink,
    log: silentLogger(),
    preview: false,
    context: { contextFor: () => REGISTRATION },
  });
  const third = await linked.store(record, SERIAL, { sourceSha256: sha });
  assert.equal(third.studyInstanceUid, "2.25.1234567");
  assert.equal(third.sopInstanceUid, first.sopInstanceUid);
});

test("a refusal for a passing reason is offered again; a final one is not; stop() gives up waiting", async () => {
  const full: StoreResult = {
    status: "refused",
    code: "SPOOL_OUT_OF_RESOURCES",
    reason: "disk full",
    retryable: true,
  };
  const record = generateSyntheticEcg({ seconds: 2 });
  const sink = memorySink([full, full]);
  const store = createEcgStore({
    sink,
    log: silentLogger(),
    preview: false,
    retry: { attempts: 5, delayMs: 1 },
  });
  assert.equal((await store.store(record, SERIAL)).status, "stored");
  assert.equal(sink.offers, 3);

  const bad = memorySink([{ status: "refused", code: "INSTANCE_INVALID", reason: "bad", retryable: false }]);
  const once = createEcgStore({
    sink: bad,
    log: silentLogger(),
    preview: false,
    retry: { attempts: 5, delayMs: 1 },
  });
  const refused = await once.store(record, SERIAL);
  assert.equal(refused.status, "refused");
  assert.equal(bad.offers, 1);

  const never = memorySink(Array.from({ length: 100 }, () => full));
  const waiting = createEcgStore({
    sink: never,
    log: silentLogger(),
    preview: false,
    retry: { attempts: 100, delayMs: 60_000 },
  });
  const pending = waiting.store(record, SERIAL);
  await new Promise((r) => setTimeout(r, 20));
  waiting.stop();
  const given = await pending;
  assert.equal(given.status, "refused");
  assert.equal(never.offers, 2, "one offer, one more after the wake-up, then given up");
});

test("a failing registration lookup stores the ECG unlinked; a record no DICOM can hold is refused for good", async () => {
  const sink = memorySink();
  const store = createEcgStore({
    sink,
    log: silentLogger(),
    preview: false,
    context: {
      contextFor: () => {
        throw new Error("registrations unavailable");
      },
    },
  });
  const ok = await store.store(generateSyntheticEcg({ seconds: 2 }), SERIAL);
  assert.equal(ok.status, "stored");
  assert.equal(ok.registrationId, undefined);

  const empty = { ...generateSyntheticEcg({ seconds: 1 }), rhythm: { samplingFrequencyHz: 500, leads: [] } };
  const refused = await store.store(empty, SERIAL);
  assert.equal(refused.status, "refused");
  assert.ok(refused.status === "refused" && refused.code.startsWith("DICOM_ECG_") && !refused.retryable);
});

test("a cart record with median beats becomes two instances in one series; the preview goes with the rhythm", async () => {
  const sink = memorySink();
  const store = createEcgStore({ sink, log: silentLogger() });
  const outcome = await store.store(generateSyntheticEcg({ seconds: 10, medianBeats: true }), SERIAL);
  assert.equal(outcome.status, "stored");
  assert.equal(sink.stored.length, 2);
  const [rhythm, medians] = sink.stored;
  assert.equal(rhythm!.attributes.sopInstanceUid, outcome.sopInstanceUid);
  assert.equal(rhythm!.attributes.seriesInstanceUid, medians!.attributes.seriesInstanceUid);
  assert.ok(rhythm!.preview);
  assert.equal(medians!.preview, undefined);
});
