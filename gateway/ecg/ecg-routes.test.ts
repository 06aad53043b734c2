import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../common/logger.ts";
import { generateSyntheticEcg } from "../../device-drivers/ecg/stream/index.ts";
import { createEcgStore, type SerialDeviceStatus } from "../../device-drivers/index.ts";
import { createApi } from "../api/routes.ts";
import { addReportRoutes } from "../reports/report-routes.ts";
import { openStudyService, receivedInstance } from "../test-support.ts";
import { addDeviceRoutes } from "./device-routes.ts";
import { addEcgRoutes } from "./ecg-routes.ts";

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

test("an ECG from a device: stored with its preview and priority, drawn by the API, previewed to the county, printed with its report", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "dxgate-ecg-api-"));
  const { studies, spool } = await openStudyService(dataDir, { quietPeriodMs: 10, ecgPriority: "urgent" });
  const device: SerialDeviceStatus = {
    path: "/dev/ttyUSB0",
    aliases: [],
    explicit: false,
    usb: { vendorId: "0403", productId: "6001" },
    profile: "generic-scp-ecg-usb-serial",
    protocol: "scp-ecg",
    state: "receiving",
    since: new Date().toISOString(),
    lastRecordAt: null,
    recordsReceived: 1,
    bytesReceived: 100,
    bytesDiscarded: 0,
    lastError: null,
  };
  const api = createApi({ studies, log: silentLogger(), siteId: "site-ecg", uploaderConnected: () => false });
  addDeviceRoutes(api, { devices: () => [device] });
  addEcgRoutes(api, { studies, spool, log: silentLogger() });
  addReportRoutes(api, { studies, spool, log: silentLogger(), siteName: "Xiaozhen" });
  const server = createServer(api.handle).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  t.after(async () => {
    server.close();
    await studies.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const ecg = createEcgStore({ sink: studies, log: silentLogger() });
  const record = generateSyntheticEcg({ seconds: 10, patient: { id: "E-42", name: "Sun^Mei", sex: "F" } });
  const outcome = await ecg.store(
    record,
    { kind: "serial", devicePath: "/dev/ttyUSB0", profile: "generic-scp-ecg-usb-serial" },
    { priority: "stat" },
  );
  assert.equal(outcome.status, "stored");
  const uid = outcome.studyInstanceUid!;

  assert.deepEqual(await (await fetch(`${base}/api/devices`)).json(), [device]);

  const study = (await (await fetch(`${base}/api/studies/${uid}`)).json()) as Record<string, unknown>;
  assert.equal(study.priority, "stat", "the device profile's priority, not studies.ecgPriority");
  assert.equal(study.unregistered, true);
  assert.deepEqual(study.modalities, ["ECG"]);

  const svg = await fetch(`${base}/api/studies/${uid}/ecg.svg?lang=en`);
  assert.equal(svg.status, 200);
  assert.match(svg.headers.get("content-type") ?? "", /^image\/svg\+xml/);
  assert.match(await svg.text(), /<svg[\s\S]*<\/svg>\s*$/);

  const [spooled] = await studies.instances(uid);
  const previewPath = spool.previewPath(uid, outcome.sopInstanceUid!);
  const previewBytes = await readFile(previewPath);
  assert.equal(spooled!.preview?.sha256, createHash("sha256").update(previewBytes).digest("hex"));
  assert.equal(spooled!.preview?.size, previewBytes.length);
  const png = await fetch(`${base}/api/studies/${uid}/ecg.png`);
  assert.equal(png.status, 200);
  assert.ok(Buffer.from(await png.arrayBuffer()).equals(previewBytes), "the stored preview is served");
  const print = await fetch(`${base}/api/studies/${uid}/ecg.png?dpi=300`);
  assert.ok(
    Buffer.from(await print.arrayBuffer())
      .subarray(0, 4)
      .equals(PNG),
  );
  const bad = await fetch(`${base}/api/studies/${uid}/ecg.png?dpi=7`);
  assert.equal(bad.status, 400);
  assert.deepEqual(((await bad.json()) as { error: { details: unknown } }).error.details, { field: "dpi" });

  // The uploader gets the preview with the study, to send ahead of it.
  let next: Awaited<ReturnType<typeof studies.next>>;
  for (;;) {
    next = await studies.next();
    if (next) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(next.previews?.length, 1);
  assert.deepEqual(
    { ...next.previews![0]!, path: undefined },
    {
      previewId: outcome.sopInstanceUid,
      mediaType: "image/png",
      path: undefined,
      size: previewBytes.length,
      sha256: spooled!.preview!.sha256,
      width: 1754,
      height: 1240,
      description: "12-lead ECG sheet",
    },
  );
  assert.equal(next.previews![0]!.path, previewPath);

  await studies.attachReport(uid, {
    reportId: "rep-ecg-1",
    findings: "窦性心律，未见异常",
    impression: "正常心电图",
    critical: false,
    reportedBy: "dr-wang",
    reportedAt: new Date().toISOString(),
    receivedAt: new Date().toISOString(),
  });
  const page = await fetch(`${base}/api/reports/rep-ecg-1/print`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
  const html = await page.text();
  assert.ok(html.includes("窦性心律，未见异常"));
  assert.ok(html.includes("<svg"), "the ECG sheet is on the printed page");
  assert.equal((await fetch(`${base}/api/reports/nope/print`)).status, 404);
});

test("a study without an ECG has no sheet; an unknown study is not found", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "dxgate-ecg-api-"));
  const { studies, spool } = await openStudyService(dataDir);
  const api = createApi({ studies, log: silentLogger(), siteId: "s", uploaderConnected: () => false });
  addEcgRoutes(api, { studies, spool, log: silentLogger() });
  const server = createServer(api.handle).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  t.after(async () => {
    server.close();
    await studies.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await studies.store(
    receivedInstance({ sopInstanceUid: "1.2.840.1.1.1" }, { kind: "bytes", bytes: new Uint8Array(200) }),
  );
  const noEcg = await fetch(`${base}/api/studies/1.2.840.1/ecg.svg`);
  assert.equal(noEcg.status, 404);
  assert.equal(((await noEcg.json()) as { error: { code: string } }).error.code, "ECG_NOT_FOUND");
  const unknown = await fetch(`${base}/api/studies/9.9.9/ecg.png`);
  assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, "STUDY_NOT_FOUND");
  const lang = await fetch(`${base}/api/studies/1.2.840.1/ecg.svg?lang=fr`);
  assert.equal(lang.status, 400);
});
