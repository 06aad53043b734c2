import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { DeviceProfile } from "./profile.ts";
import { globToRegExp, matchProfile } from "./profile-match.ts";
import { usbIdentityOf } from "./sysfs.ts";

/**
 * A fake sysfs (sysfs is the hardware boundary) and /dev, laid out as the kernel does:
 *   sys/devices/pci0000:00/usb1/1-1/{idVendor,idProduct,serial}        the USB device
 *   sys/devices/pci0000:00/usb1/1-1/1-1:1.0/ttyUSB0                     its port (usb-serial)
 *   sys/class/tty/ttyUSB0/device -> ../../../devices/…/1-1:1.0/ttyUSB0
 *   sys/devices/pci0000:00/usb1/1-2/1-2:1.0                             CDC-ACM interface
 *   sys/class/tty/ttyACM0/device -> ../../../devices/…/1-2:1.0
 *   sys/class/tty/ttyS0/device -> ../../../devices/platform/serial8250  no USB
 */
async function fakeHardware(root: string): Promise<{ sys: string; dev: string }> {
  const sys = join(root, "sys");
  const dev = join(root, "dev");
  const usb1 = join(sys, "devices", "pci0000:00", "usb1");
  const ftdi = join(usb1, "1-1");
  const acm = join(usb1, "1-2");
  await mkdir(join(ftdi, "1-1:1.0", "ttyUSB0"), { recursive: true });
  await writeFile(join(ftdi, "idVendor"), "0403\n");
  await writeFile(join(ftdi, "idProduct"), "6001\n");
  await writeFile(join(ftdi, "serial"), "A12345\n");
  await writeFile(join(ftdi, "product"), "FT232R USB UART\n");
  await mkdir(join(acm, "1-2:1.0"), { recursive: true });
  await writeFile(join(acm, "idVendor"), "1A86\n");
  await writeFile(join(acm, "idProduct"), "7523\n");
  await mkdir(join(sys, "devices", "platform", "serial8250"), { recursive: true });
  for (const [tty, target] of [
    ["ttyUSB0", join(ftdi, "1-1:1.0", "ttyUSB0")],
    ["ttyACM0", join(acm, "1-2:1.0")],
    ["ttyS0", join(sys, "devices", "platform", "serial8250")],
  ] as const) {
    await mkdir(join(sys, "class", "tty", tty), { recursive: true });
    await symlink(target, join(sys, "class", "tty", tty, "device"));
  }
  await mkdir(join(dev, "serial", "by-id"), { recursive: true });
  for (const tty of ["ttyUSB0", "ttyACM0", "ttyS0"]) await writeFile(join(dev, tty), "");
  await symlink(
    join(dev, "ttyUSB0"),
    join(dev, "serial", "by-id", "usb-FTDI_FT232R_USB_UART_A12345-if00-port0"),
  );
  return { sys, dev };
}

function profile(id: string, match: DeviceProfile["match"], origin = "builtin"): DeviceProfile {
  return {
    id,
    generic: true,
    vendor: "v",
    model: "m",
    match,
    line: { baudRate: 9600, dataBits: 8, parity: "none", stopBits: 1, flowControl: "none" },
    protocol: "text",
    protocolSettings: {},
    origin,
  };
}

test("sysfs gives the USB identity of a usb-serial port, of a CDC-ACM port, and none for a UART", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "dxgate-sysfs-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const { sys, dev } = await fakeHardware(root);
  assert.deepEqual(await usbIdentityOf(join(dev, "ttyUSB0"), sys), {
    vendorId: "0403",
    productId: "6001",
    serialNumber: "A12345",
    product: "FT232R USB UART",
  });
  // Through the by-id link too: the link resolves to the node, the node's name to sysfs.
  const byId = join(dev, "serial", "by-id", "usb-FTDI_FT232R_USB_UART_A12345-if00-port0");
  assert.equal((await usbIdentityOf(byId, sys))?.serialNumber, "A12345");
  assert.deepEqual(await usbIdentityOf(join(dev, "ttyACM0"), sys), { vendorId: "1a86", productId: "7523" });
  assert.equal(await usbIdentityOf(join(dev, "ttyS0"), sys), undefined);
  assert.equal(await usbIdentityOf(join(dev, "ttyUSB9"), sys), undefined);
});

test("the most specific rule wins: serial number, then USB id, then path; a site profile beats a shipped one", () => {
  const usb = { vendorId: "0403", productId: "6001", serialNumber: "A12345" };
  const device = { path: "/dev/ttyUSB0", aliases: ["/dev/serial/by-id/usb-FTDI_A12345-if00-port0"], usb };
  const generic = profile("generic", { usb: [{ vendorId: "0403", productId: "6001" }] });
  const byPath = profile("by-path", { paths: ["/dev/serial/by-id/usb-FTDI_*"] });
  const mine = profile("my-cart", { usb: [{ vendorId: "0403", productId: "6001", serialNumber: "A12345" }] });
  const other = profile("other-cart", {
    usb: [{ vendorId: "0403", productId: "6001", serialNumber: "B999" }],
  });

  assert.deepEqual(matchProfile(device, [byPath]), {
    kind: "matched",
    profile: byPath,
    rule: "path /dev/serial/by-id/usb-FTDI_*",
  });
  for (const order of [
    [byPath, generic],
    [generic, byPath],
  ]) {
    const usbBeatsPath = matchProfile(device, order);
    assert.ok(usbBeatsPath.kind === "matched" && usbBeatsPath.profile.id === "generic");
  }
  const result = matchProfile(device, [byPath, generic, mine, other]);
  assert.ok(result.kind === "matched");
  assert.equal(result.profile.id, "my-cart");
  assert.equal(result.rule, "usb 0403:6001 serial A12345");

  const site = profile(
    "site-generic",
    { usb: [{ vendorId: "0403", productId: "6001" }] },
    "/etc/dxgate/profiles/x.json",
  );
  const siteWins = matchProfile(device, [generic, site]);
  assert.ok(siteWins.kind === "matched");
  assert.equal(siteWins.profile.id, "site-generic");

  assert.deepEqual(
    matchProfile({ ...device, usb: { vendorId: "067b", productId: "2303" } }, [generic, other]),
    { kind: "none" },
  );
  assert.deepEqual(matchProfile({ path: "/dev/ttyS0", aliases: [] }, [generic]), { kind: "none" });
});

test("two profiles equally specific are ambiguous, not guessed", () => {
  const device = { path: "/dev/ttyUSB0", aliases: [], usb: { vendorId: "1a86", productId: "7523" } };
  const a = profile("scp-cart", { usb: [{ vendorId: "1a86", productId: "7523" }] });
  const b = profile("stream-module", { usb: [{ vendorId: "1a86", productId: "7523" }] });
  assert.deepEqual(matchProfile(device, [b, a]), {
    kind: "ambiguous",
    profileIds: ["scp-cart", "stream-module"],
  });
});

test("path globs: * and ? stay within one path component, everything else is literal", () => {
  assert.ok(globToRegExp("/dev/ttyUSB*").test("/dev/ttyUSB12"));
  assert.ok(!globToRegExp("/dev/ttyUSB*").test("/dev/ttyUSB0/x"));
  assert.ok(globToRegExp("/dev/ttyACM?").test("/dev/ttyACM3"));
  assert.ok(!globToRegExp("/dev/ttyACM?").test("/dev/ttyACM10"));
  assert.ok(!globToRegExp("/dev/tty.USB0").test("/dev/ttyxUSB0"));
  assert.ok(
    globToRegExp("/dev/serial/by-id/usb-Acme_(ECG)*").test("/dev/serial/by-id/usb-Acme_(ECG)_1-if00"),
  );
});
