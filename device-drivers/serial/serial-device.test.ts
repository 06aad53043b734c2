import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../common/logger.ts";
import type { EcgRecord } from "../ecg/ecg-record.ts";
import type { DeviceProfile } from "./profile.ts";
import { SerialDevice, type SerialDeviceStatus } from "./serial-device.ts";
import { openSerialLine } from "./serial-line.ts";
import { openDescriptorCount, openPtyPair, TEXT_PROTOCOL } from "./test-support.ts";

const PROFILE: DeviceProfile = {
  id: "text-cart",
  generic: false,
  vendor: "Test",
  model: "Text",
  match: {},
  line: { baudRate: 115200, dataBits: 8, parity: "none", stopBits: 1, flowControl: "none" },
  protocol: "text",
  protocolSettings: { samplingFrequencyHz: 250 },
  origin: "builtin",
};

function freshStatus(path: string): SerialDeviceStatus {
  return {
    path,
    aliases: [],
    explicit: true,
    usb: null,
    profile: PROFILE.id,
    protocol: "text",
    state: "disconnected",
    since: new Date().toISOString(),
    lastRecordAt: null,
    recordsReceived: 0,
    bytesReceived: 0,
    bytesDiscarded: 0,
    lastError: null,
  };
}

async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("a device over a pty: connected, receiving, records handed on, disconnected on a cable pull, back on return", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-serial-"));
  const link = join(dir, "ecg");
  const records: Array<{ record: EcgRecord; devicePath: string }> = [];
  const status = freshStatus(link);
  const device = new SerialDevice({
    path: link,
    profile: PROFILE,
    protocol: TEXT_PROTOCOL,
    openLine: openSerialLine,
    onRecord: async (record, origin) => {
      records.push({ record, devicePath: origin.devicePath });
    },
    log: silentLogger(),
    reopen: { baseMs: 50, maxMs: 200 },
    idleMs: 300,
    status,
  });
  let cart = await openPtyPair(link, join(dir, "cart"));
  t.after(async () => {
    await device.stop();
    await cart.close();
    await rm(dir, { recursive: true, force: true });
  });

  device.start();
  await until(() => status.state === "connected", "connected");
  await cart.write("REC P1 10\nnoise here\nREC P2 ");
  await cart.write("20\n");
  await until(() => records.length === 2, "two records");
  assert.equal(status.state, "receiving");
  assert.deepEqual(
    records.map((r) => [r.record.patient.id, r.record.rhythm.leads[0]!.samples.length, r.devicePath]),
    [
      ["P1", 10, link],
      ["P2", 20, link],
    ],
  );
  assert.equal(
    records[0]!.record.rhythm.samplingFrequencyHz,
    250,
    "the profile's protocol settings reach the decoder",
  );
  assert.equal(status.recordsReceived, 2);
  assert.equal(status.bytesDiscarded, "noise here\n".length);
  assert.equal(status.lastError?.code, "TEXT_GARBAGE");
  assert.ok(status.lastRecordAt);
  await until(() => status.state === "connected", "receiving to fall back to connected when idle");

  // Cable pulled mid-record: the partial record is dropped, the device is disconnected, no crash.
  const discardedBefore = status.bytesDiscarded;
  const received = status.bytesReceived;
  await cart.write("REC P3 5");
  await until(() => status.bytesReceived === received + 8, "the partial record to arrive");
  await cart.close();
  await until(() => status.state === "disconnected", "disconnected");
  assert.equal(status.bytesDiscarded, discardedBefore + 8, "the record cut short is given up, counted");
  assert.equal(status.lastError?.code, "SERIAL_LINE_LOST");

  cart = await openPtyPair(link, join(dir, "cart"));
  await until(() => status.state === "connected", "reconnected");
  await cart.write("REC P4 1\n");
  await until(() => records.length === 3, "a record after the reconnection");
  assert.equal(records[2]!.record.patient.id, "P4");
});

test("repeated cable pulls leak no file descriptor, and stop() closes the line", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-serial-"));
  const link = join(dir, "ecg");
  const status = freshStatus(link);
  const device = new SerialDevice({
    path: link,
    profile: PROFILE,
    protocol: TEXT_PROTOCOL,
    openLine: openSerialLine,
    onRecord: async () => undefined,
    log: silentLogger(),
    reopen: { baseMs: 20, maxMs: 50 },
    idleMs: 1000,
    status,
  });
  let cart = await openPtyPair(link, join(dir, "cart"));
  t.after(async () => {
    await device.stop();
    await cart.close();
    await rm(dir, { recursive: true, force: true });
  });
  // Warm up once (serialport loads its native binding and thread pool on first use).
  device.start();
  await until(() => status.state === "connected", "connected");
  await cart.close();
  await until(() => status.state === "disconnected", "disconnected");
  const before = await openDescriptorCount();
  for (let pull = 0; pull < 5; pull++) {
    cart = await openPtyPair(link, join(dir, "cart"));
    await until(() => status.state === "connected", `connected (${pull})`);
    await cart.write("REC P 1\n");
    await until(() => status.recordsReceived === pull + 1, `record ${pull}`);
    await cart.close();
    await until(() => status.state === "disconnected", `disconnected (${pull})`);
  }
  assert.equal(status.recordsReceived, 5);
  assert.equal(await openDescriptorCount(), before, "descriptors after five plug cycles");

  cart = await openPtyPair(link, join(dir, "cart"));
  await until(() => status.state === "connected", "connected again");
  await device.stop();
  assert.equal(status.state, "disconnected");
  await cart.close(); // the test's own end of the pair
  assert.equal(await openDescriptorCount(), before, "stop() released the port");
});

test("a path that is not a serial device is an error, retried with back-off, not a crash", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-serial-"));
  const path = join(dir, "not-a-tty");
  await writeFile(path, "plain file");
  const status = freshStatus(path);
  let opens = 0;
  const device = new SerialDevice({
    path,
    profile: PROFILE,
    protocol: TEXT_PROTOCOL,
    openLine: (p, s) => {
      opens += 1;
      return openSerialLine(p, s);
    },
    onRecord: async () => undefined,
    log: silentLogger(),
    reopen: { baseMs: 20, maxMs: 40 },
    idleMs: 1000,
    status,
  });
  t.after(async () => {
    await device.stop();
    await rm(dir, { recursive: true, force: true });
  });
  device.start();
  await until(() => opens >= 3, "three attempts");
  assert.equal(status.state, "error");
  assert.equal(status.lastError?.code, "SERIAL_OPEN_FAILED");
});

test("a configured path that does not exist yet waits, then connects when it appears", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-serial-"));
  const link = join(dir, "later");
  const status = freshStatus(link);
  const device = new SerialDevice({
    path: link,
    profile: PROFILE,
    protocol: TEXT_PROTOCOL,
    openLine: openSerialLine,
    onRecord: async () => undefined,
    log: silentLogger(),
    reopen: { baseMs: 20, maxMs: 60_000 },
    idleMs: 1000,
    status,
  });
  let cart: Awaited<ReturnType<typeof openPtyPair>> | undefined;
  t.after(async () => {
    await device.stop();
    await cart?.close();
    await rm(dir, { recursive: true, force: true });
  });
  device.start();
  await until(() => status.lastError?.code === "SERIAL_DEVICE_ABSENT", "absent");
  assert.equal(status.state, "disconnected");
  cart = await openPtyPair(link, join(dir, "cart"));
  device.retryNow(); // what the watcher does when the link appears
  await until(() => status.state === "connected", "connected once the link exists");
  assert.equal(status.lastError, null, "the wait is over: no error left behind");
});
