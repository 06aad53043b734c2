/**
 * Which USB device a serial port belongs to, read from sysfs (the kernel's own view, so no udevadm,
 * which containers and minimal images lack, and which `SerialPort.list()` needs).
 *
 *   /sys/class/tty/ttyUSB0/device  →  …/usb1/1-1/1-1:1.0/ttyUSB0     (usb-serial: FTDI, CH340, …)
 *   /sys/class/tty/ttyACM0/device  →  …/usb1/1-2/1-2:1.0             (CDC-ACM)
 *
 * Walking up from there, the first directory with `idVendor` and `idProduct` is the USB device;
 * `serial`, `manufacturer` and `product` beside them are optional (many CH340s have no serial).
 */
import { readFile, realpath } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface UsbIdentity {
  /** 4 lower-case hex digits, as sysfs writes them. */
  vendorId: string;
  productId: string;
  serialNumber?: string;
  manufacturer?: string;
  product?: string;
}

/** How far up from the port's directory the USB device may be (port → interface → device). */
const MAX_LEVELS = 4;

/**
 * The USB identity of the tty at `devicePath` (a /dev node or a symlink to one), or undefined when
 * it is not a USB device (a built-in UART, a pseudo-terminal) or sysfs does not say.
 */
export async function usbIdentityOf(
  devicePath: string,
  sysfsRoot = "/sys",
): Promise<UsbIdentity | undefined> {
  let ttyName: string;
  try {
    ttyName = basename(await realpath(devicePath));
  } catch {
    return undefined;
  }
  let dir: string;
  try {
    dir = await realpath(join(sysfsRoot, "class", "tty", ttyName, "device"));
  } catch {
    return undefined;
  }
  for (let level = 0; level <= MAX_LEVELS && dir !== dirname(dir); level++) {
    const vendorId = await readAttribute(dir, "idVendor");
    const productId = await readAttribute(dir, "idProduct");
    if (vendorId && productId) {
      const identity: UsbIdentity = { vendorId: vendorId.toLowerCase(), productId: productId.toLowerCase() };
      const serialNumber = await readAttribute(dir, "serial");
      const manufacturer = await readAttribute(dir, "manufacturer");
      const product = await readAttribute(dir, "product");
      if (serialNumber) identity.serialNumber = serialNumber;
      if (manufacturer) identity.manufacturer = manufacturer;
      if (product) identity.product = product;
      return identity;
    }
    dir = dirname(dir);
  }
  return undefined;
}

async function readAttribute(dir: string, name: string): Promise<string | undefined> {
  try {
    const text = (await readFile(join(dir, name), "utf8")).trim();
    return text === "" ? undefined : text;
  } catch {
    return undefined;
  }
}
