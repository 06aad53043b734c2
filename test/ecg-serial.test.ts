/**
 * ECG carts over serial, end to end: the real gateway and reading centre as processes, the ECG
 * simulator playing into socat pseudo-terminals that the gateway opens through serialport (attached
 * with DXGATE_SERIAL), and what arrives at the county checked with dciodvfy and sample by sample
 * against what was sent. Faults (noise, split reads, cable pulls) are in ecg-faults.test.ts.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readDicomEcg, writeDicomEcg } from "../device-drivers/ecg/dicom/index.ts";
import { decodeScpEcg, encodeScpEcg } from "../device-drivers/ecg/scp-ecg/index.ts";
import { generateSyntheticEcg } from "../device-drivers/ecg/stream/index.ts";
import { openPtyPair } from "../device-drivers/serial/test-support.ts";
import {
  assertSameSamples,
  assertValidDicomEcg,
  countyInstances,
  DCIODVFY_SKIP,
  newEcgStudies,
  runSimulator,
  SHARED_DATA,
  SHARED_SKIP,
  TWELVE_LEAD_ECG_SOP_CLASS,
} from "./support/ecg.ts";
import { eventually, type RunningProcess } from "./support/processes.ts";
import { provisionBox, ReadingCentreClient, startGateway, startReadingCentre } from "./support/stack.ts";

/** A site profile (serial.profilesDir): a module streaming 12 leads at 1000 Hz in 1.25 µV units. */
const SITE_PROFILE = {
  id: "site-stream-12-lead-1000hz",
  generic: false,
  vendor: "Test",
  model: "12-lead module at 1000 Hz",
  match: {},
  line: { baudRate: 460800 },
  protocol: "ecg-stream",
  protocolSettings: {
    leads: ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"],
    samplingFrequencyHz: 1000,
    nanovoltsPerUnit: 1250,
    counterBytes: 2,
  },
};

describe("ECG carts over serial ptys to the reading centre", () => {
  let work: string;
  let rc: RunningProcess;
  let gateway: RunningProcess;
  let county: ReadingCentreClient;
  const links = { stream: "", scp: "", site: "" };
  const known = new Set<string>();
  let gatewayHttp = 0;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "dxgate-ecg-serial-"));
    links.stream = join(work, "tty-stream");
    links.scp = join(work, "tty-scp");
    links.site = join(work, "tty-site");
    await mkdir(join(work, "profiles"));
    await writeFile(join(work, "profiles", "site.json"), JSON.stringify(SITE_PROFILE));
    rc = await startReadingCentre(join(work, "rc"));
    const box = await provisionBox(join(work, "rc"), rc.port("mqtt"));
    gateway = await startGateway(join(work, "gw"), rc.port("mqtt"), 300, {
      ...box,
      DXGATE_SERIAL: [
        `${links.stream}=generic-ecg-stream-8-lead`,
        `${links.scp}=generic-scp-ecg-usb-serial`,
        `${links.site}=${SITE_PROFILE.id}`,
      ].join(","),
      DXGATE_SERIAL_PROFILES_DIR: join(work, "profiles"),
      DXGATE_SERIAL_WATCH: "0",
      DXGATE_SERIAL_REOPEN_BASE_MS: "100",
    });
    gatewayHttp = gateway.port("http");
    county = new ReadingCentreClient(rc.port("http"));
    await county.login();
  });

  after(async () => {
    await gateway?.stop();
    await rc?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test("a generated ECG streamed as 8 leads arrives as a 12-lead DICOM ECG with the same samples, linked to the waiting registration", async () => {
    const registration = (await (
      await fetch(`http://127.0.0.1:${gatewayHttp}/api/registrations`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          patientId: "ECG-2001",
          patientName: "Zhou^Min=周^敏",
          patientSex: "F",
          patientBirthDate: "19671203",
          modality: "ECG",
        }),
      })
    ).json()) as { registrationId: string; studyInstanceUid: string; accessionNumber: string };

    // The source: a synthetic 12-lead ECG whose III, aVR, aVL, aVF follow from I and II as the box
    // derives them, so the module sends 8 leads and all 12 must come back.
    const source = generateSyntheticEcg({ seconds: 10, heartRateBpm: 66 });
    const file = join(work, "generated.dcm");
    await writeFile(file, writeDicomEcg(source));
    const run = await runSimulator([
      "--source",
      file,
      "--link",
      links.stream,
      "--protocol",
      "ecg-stream",
      "--speed",
      "max",
    ]);
    assert.equal(run.code, 0, JSON.stringify(run.events.slice(-3)));

    const [study] = await newEcgStudies(gatewayHttp, known);
    assert.equal(
      study!.studyInstanceUid,
      registration.studyInstanceUid,
      "the ECG joins the registration's study",
    );
    assert.equal(study!.registrationId, registration.registrationId);
    assert.equal(study!.unregistered, false);
    assert.equal(study!.priority, "urgent", "studies.ecgPriority");

    const [instance] = await countyInstances(county, study!.studyInstanceUid);
    assert.equal(instance!.sopClassUid, TWELVE_LEAD_ECG_SOP_CLASS);
    const arrived = readDicomEcg(instance!.bytes);
    assert.equal(arrived.patient.id, "ECG-2001");
    assert.equal(arrived.patient.name, "Zhou^Min=周^敏");
    assert.equal(arrived.patient.sex, "F");
    assert.equal(arrived.patient.birthDate, "19671203");
    assert.equal(arrived.acquisition.accessionNumber, registration.accessionNumber);
    assert.equal(arrived.rhythm.leads.length, 12);
    assertSameSamples(arrived, source);
    const derived = arrived.rhythm.leads.filter((l) => ["III", "aVR", "aVL", "aVF"].includes(l.name));
    assert.ok(
      derived.every((l) => l.derived),
      "the derived leads are marked derived",
    );
  });

  test("the DICOM ECGs at the county pass dciodvfy", { skip: DCIODVFY_SKIP }, async () => {
    assert.ok(known.size > 0, "runs after the first test");
    for (const uid of known) {
      for (const instance of await countyInstances(county, uid)) assertValidDicomEcg(instance.bytes, uid);
    }
  });

  test("a generated SCP-ECG record from a cart arrives with its patient and samples", async () => {
    const record = generateSyntheticEcg({
      seconds: 10,
      heartRateBpm: 80,
      medianBeats: true,
      patient: { id: "SCP-77", name: "Huang^Lei", sex: "M", birthDate: "19500101" },
    });
    const file = join(work, "cart.scp");
    const bytes = encodeScpEcg(record);
    await writeFile(file, bytes);
    const sent = decodeScpEcg(bytes); // what the cart's record says, as any SCP reader sees it
    const run = await runSimulator([
      "--source",
      file,
      "--link",
      links.scp,
      "--protocol",
      "scp-ecg",
      "--speed",
      "max",
    ]);
    assert.equal(run.code, 0);

    const [study] = await newEcgStudies(gatewayHttp, known);
    assert.equal(study!.unregistered, true, "no registration for this patient: unlinked, flagged");
    const instances = await countyInstances(county, study!.studyInstanceUid);
    assert.equal(instances.length, 2, "the 12-lead rhythm and the median beats");
    const rhythm = instances.find((i) => i.sopClassUid === TWELVE_LEAD_ECG_SOP_CLASS)!;
    const arrived = readDicomEcg(rhythm.bytes);
    assert.equal(arrived.patient.id, "SCP-77");
    assert.equal(arrived.patient.name, "Huang^Lei");
    assert.equal(arrived.patient.sex, "M");
    assert.equal(arrived.patient.birthDate, "19500101");
    assertSameSamples(arrived, sent);
    if (!DCIODVFY_SKIP) for (const instance of instances) assertValidDicomEcg(instance.bytes, "SCP record");
  });

  test("the real SCP-ECG files arrive with their patient and samples; the non-standard one is refused cleanly", {
    skip: SHARED_SKIP,
  }, async () => {
    for (const name of ["Example.scp", "0000050.ECG.scp"]) {
      const bytes = await readFile(join(SHARED_DATA, "ecg-scp", name));
      const sent = decodeScpEcg(bytes);
      const run = await runSimulator([
        "--source",
        join(SHARED_DATA, "ecg-scp", name),
        "--link",
        links.scp,
        "--protocol",
        "scp-ecg",
        "--speed",
        "max",
      ]);
      assert.equal(run.code, 0, name);
      const [study] = await newEcgStudies(gatewayHttp, known);
      const instances = await countyInstances(county, study!.studyInstanceUid);
      // The rhythm: a 12-Lead ECG instance when it fits that IOD (10 s at 500 Hz), a General ECG
      // instance otherwise (47 s at 800 Hz); the median beats, when sent, are a second instance.
      const withRhythm = instances
        .map((i) => readDicomEcg(i.bytes))
        .find((r) => r.rhythm.leads[0]!.samples.length === sent.rhythm.leads[0]!.samples.length);
      assert.ok(withRhythm, `${name}: the rhythm instance`);
      assert.equal(withRhythm.patient.id ?? "", sent.patient.id ?? "", `${name}: patient ID`);
      assert.equal(withRhythm.patient.name ?? "", sent.patient.name ?? "", `${name}: patient name`);
      assertSameSamples(withRhythm, sent);
      if (!DCIODVFY_SKIP) for (const instance of instances) assertValidDicomEcg(instance.bytes, name);
    }
    // 62.SCP (a handheld's own layout under the .scp name) is no SCP-ECG record: the simulator will
    // not play it, so the test writes its bytes into the line itself. Every byte is discarded.
    const odd = await readFile(join(SHARED_DATA, "ecg-scp", "62.SCP"));
    const cart = await openPtyPair(links.scp, join(work, "cart-62"));
    try {
      await eventually(
        async () => ((await device(gatewayHttp, links.scp)).state === "connected" ? true : undefined),
        10_000,
        "the SCP line connected",
      );
      const before = await device(gatewayHttp, links.scp);
      await cart.write(odd);
      await eventually(
        async () =>
          (await device(gatewayHttp, links.scp)).bytesReceived === before.bytesReceived + odd.length
            ? true
            : undefined,
        10_000,
        "62.SCP's bytes at the gateway",
      );
      await cart.close(); // the end of the line makes the decoder give up what it still held
      const after = await eventually(
        async () => {
          const now = await device(gatewayHttp, links.scp);
          return now.state === "disconnected" ? now : undefined;
        },
        10_000,
        "the line closed",
      );
      assert.equal(after.bytesDiscarded, before.bytesDiscarded + odd.length, "62.SCP discarded, every byte");
      assert.equal(after.recordsReceived, before.recordsReceived);
    } finally {
      await cart.close();
    }
    const ecgs = (await (await fetch(`http://127.0.0.1:${gatewayHttp}/api/studies`)).json()) as Array<{
      studyInstanceUid: string;
      modalities: string[];
    }>;
    assert.equal(
      ecgs.filter((s) => s.modalities.includes("ECG") && !known.has(s.studyInstanceUid)).length,
      0,
    );
  });

  test("the DICOM ECG from ../shared/data, turned into a stream and played back, gives the same samples", {
    skip: SHARED_SKIP,
  }, async () => {
    const path = join(SHARED_DATA, "ecg-dicom", "waveform_ecg.dcm");
    const source = readDicomEcg(await readFile(path));
    const run = await runSimulator([
      "--source",
      path,
      "--link",
      links.site,
      "--protocol",
      "ecg-stream",
      "--leads",
      "12",
      "--rate",
      "1000",
      "--nv-per-unit",
      "1250",
      "--counter-bytes",
      "2",
      "--speed",
      "max",
    ]);
    assert.equal(run.code, 0, JSON.stringify(run.events.slice(-3)));
    const [study] = await newEcgStudies(gatewayHttp, known);
    const [instance] = await countyInstances(county, study!.studyInstanceUid);
    const arrived = readDicomEcg(instance!.bytes);
    assertSameSamples(arrived, source);
    if (!DCIODVFY_SKIP) assertValidDicomEcg(instance!.bytes, "waveform_ecg.dcm as a stream");
  });

  test("GET /api/devices shows each attached device with its profile, protocol, state and counts; no patient data", async () => {
    const list = await devices(gatewayHttp);
    assert.deepEqual(
      list.map((d) => [d.path, d.profile, d.protocol]),
      [
        [links.stream, "generic-ecg-stream-8-lead", "ecg-stream"],
        [links.scp, "generic-scp-ecg-usb-serial", "scp-ecg"],
        [links.site, SITE_PROFILE.id, "ecg-stream"],
      ],
    );
    const stream = list[0]!;
    assert.ok(stream.recordsReceived >= 1);
    assert.ok(stream.lastRecordAt);
    assert.ok(["connected", "receiving", "disconnected"].includes(stream.state));
    const text = JSON.stringify(list);
    for (const leak of ["ECG-2001", "Zhou", "SCP-77", "Huang", "SBJ-123", "Clark"]) {
      assert.ok(!text.includes(leak), `${leak} in /api/devices`);
    }
  });

  test("no log line of the gateway carries a patient's data", () => {
    const everything = gateway.output.join("\n");
    for (const leak of ["ECG-2001", "Zhou^Min", "周^敏", "SCP-77", "Huang^Lei", "SBJ-123", "Clark"]) {
      assert.ok(!everything.includes(leak), `${leak} leaked into the gateway log`);
    }
  });
});

interface DeviceView {
  path: string;
  bytesReceived: number;
  profile: string | null;
  protocol: string | null;
  state: string;
  lastRecordAt: string | null;
  recordsReceived: number;
  bytesDiscarded: number;
}

async function devices(gatewayHttp: number): Promise<DeviceView[]> {
  return (await (await fetch(`http://127.0.0.1:${gatewayHttp}/api/devices`)).json()) as DeviceView[];
}

async function device(gatewayHttp: number, path: string): Promise<DeviceView> {
  const found = (await devices(gatewayHttp)).find((d) => d.path === path);
  assert.ok(found, `device ${path} in /api/devices`);
  return found;
}
