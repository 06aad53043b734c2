import assert from "node:assert/strict";
import { mkdir, mkdtemp, realpath, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../common/logger.ts";
import type { EcgRecord } from "../ecg/ecg-record.ts";
import type { DeviceProfile } from "./profile.ts";
import { createSerialService } from "./serial-service.ts";
import { openPtyPair, type PtyPair, TEXT_PROTOCOL } from "./test-support.ts";

const LINE = { baudRate: 115200, dataBits: 8, parity: "none", stopBits: 1, flowControl: "none" } as const;
const CART: DeviceProfile = {
  id: "text-cart",
  generic: false,
  vendor: "Test",
  model: "Text cart",
  match: { usb: [{ vendorId: "0403", productId: "6001" }] },
  line: LINE,
  protocol: "text",
  protocolSettings: { samplingFrequencyHz: 500 },
  origin: "builtin",
};

async function until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** "Plug in" a USB-serial adapter: a pty pair, a fake sysfs entry for its tty, a node in the fake /dev. */
async function plug(
  root: string,
  node: string,
  usb: { vendorId: string; productId: string },
): Promise<PtyPair> {
  const pair = await openPtyPair(join(root, "links", `${node}-device`), join(root, "links", `${node}-cart`));
  const tty = basename(await realpath(pair.device)); // /dev/pts/N → "N": what sysfs is keyed by
  const usbDir = join(root, "sys", "devices", "usb1", `1-${tty}`);
  await mkdir(join(usbDir, "1-1:1.0", node), { recursive: true });
  await writeFile(join(usbDir, "idVendor"), `${usb.vendorId}\n`);
  await writeFile(join(usbDir, "idProduct"), `${usb.productId}\n`);
  await rm(join(root, "sys", "class", "tty", tty), { recursive: true, force: true });
  await mkdir(join(root, "sys", "class", "tty", tty), { recursive: true });
  await symlink(join(usbDir, "1-1:1.0", node), join(root, "sys", "class", "tty", tty, "device"));
  await symlink(await realpath(pair.device), join(root, "dev", node));
  return pair;
}

async function unplug(root: string, node: string, pair: PtyPair): Promise<void> {
  await unlink(join(root, "dev", node));
  await pair.close();
}

test("hot-plug: a matching adapter starts its driver, an unknown one is reported, unplug stops, replug restarts", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "dxgate-serial-service-"));
  for (const dir of ["dev", "links", "sys"]) await mkdir(join(root, dir));
  const records: Array<{ record: EcgRecord; devicePath: string; profile: string }> = [];
  const service = createSerialService({
    profiles: [CART],
    protocols: [TEXT_PROTOCOL],
    devices: [],
    watch: {
      enabled: true,
      directories: [{ dir: join(root, "dev"), pattern: /^ttyUSB\d+$/ }],
      rescanMs: 60_000,
    },
    sysfsRoot: join(root, "sys"),
    reopen: { baseMs: 50, maxMs: 500 },
    idleMs: 5000,
    onRecord: async (record, origin) => {
      records.push({ record, devicePath: origin.devicePath, profile: origin.profile.id });
    },
    log: silentLogger(),
  });
  const pairs: PtyPair[] = [];
  t.after(async () => {
    await service.stop();
    for (const pair of pairs) await pair.close();
    await rm(root, { recursive: true, force: true });
  });
  await service.start();
  assert.deepEqual(service.devices(), []);

  let cart = await plug(root, "ttyUSB0", { vendorId: "0403", productId: "6001" });
  pairs.push(cart);
  const first = await until(
    () => service.devices().find((d) => d.state === "connected"),
    "the adapter's driver",
  );
  assert.equal(first.profile, "text-cart");
  assert.equal(first.protocol, "text");
  assert.deepEqual(first.usb, { vendorId: "0403", productId: "6001" });
  assert.deepEqual(first.aliases, [join(root, "dev", "ttyUSB0")]);
  await cart.write("REC P1 3\n");
  await until(() => records.length === 1, "the record");
  assert.equal(records[0]!.devicePath, first.path);
  assert.equal(records[0]!.profile, "text-cart");

  const other = await plug(root, "ttyUSB1", { vendorId: "1a86", productId: "7523" });
  pairs.push(other);
  const unknown = await until(
    () => service.devices().find((d) => d.usb?.vendorId === "1a86"),
    "the unknown adapter",
  );
  assert.equal(unknown.state, "error");
  assert.equal(unknown.profile, null);
  assert.equal(unknown.lastError?.code, "SERIAL_NO_PROFILE");

  await unplug(root, "ttyUSB0", cart);
  await until(
    () => service.devices().find((d) => d.path === first.path)?.state === "disconnected",
    "disconnected",
  );

  cart = await plug(root, "ttyUSB0", { vendorId: "0403", productId: "6001" });
  pairs.push(cart);
  const again = await until(
    () => service.devices().find((d) => d.profile === "text-cart" && d.state === "connected"),
    "the driver restarted",
  );
  await cart.write("REC P2 3\n");
  await until(() => records.length === 2, "a record after the replug");
  assert.equal(records[1]!.record.patient.id, "P2");
  assert.equal(records[1]!.devicePath, again.path);
});

test("a configured device (DXGATE_SERIAL) may appear later; an unknown profile is an error, not a crash", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "dxgate-serial-service-"));
  const link = join(root, "ecg-link");
  const records: EcgRecord[] = [];
  const service = createSerialService({
    profiles: [CART],
    protocols: [TEXT_PROTOCOL],
    devices: [
      { path: link, profile: "text-cart" },
      { path: join(root, "other"), profile: "no-such-profile" },
    ],
    watch: { enabled: false, rescanMs: 60_000 },
    // A long back-off: only the watcher seeing the link appear can connect it in time.
    reopen: { baseMs: 30_000, maxMs: 60_000 },
    idleMs: 5000,
    onRecord: async (record) => {
      records.push(record);
    },
    log: silentLogger(),
  });
  let cart: PtyPair | undefined;
  t.after(async () => {
    await service.stop();
    await cart?.close();
    await rm(root, { recursive: true, force: true });
  });
  await service.start();
  const [configured, broken] = service.devices();
  assert.equal(configured!.path, link);
  assert.equal(configured!.explicit, true);
  assert.equal(configured!.state, "disconnected");
  assert.equal(configured!.lastError?.code, "SERIAL_DEVICE_ABSENT");
  assert.equal(broken!.state, "error");
  assert.equal(broken!.lastError?.code, "SERIAL_PROFILE_UNKNOWN");

  cart = await openPtyPair(link, join(root, "cart"));
  await until(() => service.devices()[0]!.state === "connected", "connected when the link appears");
  await cart.write("REC P9 2\n");
  await until(() => records.length === 1, "the record");
  assert.equal(service.devices()[0]!.recordsReceived, 1);
});
