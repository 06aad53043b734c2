/**
 * The serial side of the box: finds ECG devices (hot-plug watcher + sysfs + profile matching, and
 * devices attached explicitly by configuration), runs one driver per device, and reports each
 * device's state. Composed by the gateway, which supplies `onRecord` (record → DICOM → spool).
 */
import type { Logger } from "../../common/logger.ts";
import {
  DEFAULT_WATCHED_DIRECTORIES,
  DeviceWatcher,
  type PresentDevice,
  type WatchedDirectory,
} from "./device-watcher.ts";
import type { DeviceProfile } from "./profile.ts";
import { matchProfile } from "./profile-match.ts";
import { findProtocol, SERIAL_PROTOCOLS, type SerialProtocol } from "./protocols.ts";
import { SerialDevice, type SerialDeviceOptions, type SerialDeviceStatus } from "./serial-device.ts";
import { type LineOpener, openSerialLine } from "./serial-line.ts";
import { usbIdentityOf } from "./sysfs.ts";

export interface SerialServiceOptions {
  profiles: readonly DeviceProfile[];
  protocols?: readonly SerialProtocol[];
  /** Devices attached by configuration: a path (which may not exist yet) and a profile id. */
  devices: ReadonlyArray<{ path: string; profile: string }>;
  watch: {
    /** Find devices by hot-plug; false = only the configured ones. */
    enabled: boolean;
    /** Default: /dev (ttyUSB*, ttyACM*) and /dev/serial/by-id. */
    directories?: readonly WatchedDirectory[];
    rescanMs: number;
  };
  /** Default /sys; tests use a fake tree. */
  sysfsRoot?: string;
  reopen: { baseMs: number; maxMs: number };
  idleMs: number;
  onRecord: SerialDeviceOptions["onRecord"];
  log: Logger;
  openLine?: LineOpener;
  now?: () => Date;
}

export interface SerialService {
  start(): Promise<void>;
  /** Stops watching and every driver; records already complete are handed on first. */
  stop(): Promise<void>;
  /** Every device seen since start: configured ones in configuration order, then found ones by path. */
  devices(): SerialDeviceStatus[];
}

export function createSerialService(options: SerialServiceOptions): SerialService {
  return new Service(options);
}

class Service implements SerialService {
  readonly #o: SerialServiceOptions;
  readonly #log: Logger;
  readonly #watcher: DeviceWatcher;
  readonly #status = new Map<string, SerialDeviceStatus>();
  readonly #drivers = new Map<string, SerialDevice>();
  readonly #pending = new Set<Promise<unknown>>();
  #running = false;

  constructor(options: SerialServiceOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#watcher = new DeviceWatcher({
      directories: options.watch.enabled ? (options.watch.directories ?? DEFAULT_WATCHED_DIRECTORIES) : [],
      paths: options.devices.map((device) => device.path),
      rescanMs: options.watch.rescanMs,
      onAppeared: (device) => this.#track(this.#appeared(device)),
      onDisappeared: (device) => this.#track(this.#disappeared(device)),
      log: options.log,
    });
  }

  async start(): Promise<void> {
    this.#running = true;
    for (const { path, profile: id } of this.#o.devices) {
      const status = this.#statusFor(path, true);
      const profile = this.#o.profiles.find((p) => p.id === id);
      if (!profile) {
        this.#fail(status, "SERIAL_PROFILE_UNKNOWN", `no device profile "${id}"`);
        continue;
      }
      this.#startDriver(path, profile, status);
    }
    await this.#watcher.start();
    await this.#settled();
    this.#log.info(
      {
        event: "serial-watching",
        configured: this.#o.devices.length,
        hotPlug: this.#o.watch.enabled,
        profiles: this.#o.profiles.length,
      },
      "serial devices watched",
    );
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#watcher.stop();
    await this.#settled();
    await Promise.all([...this.#drivers.values()].map((driver) => driver.stop()));
  }

  devices(): SerialDeviceStatus[] {
    return (
      [...this.#status.values()]
        // Configured devices in configuration order (insertion order, the sort is stable), then found ones by path.
        .sort(
          (a, b) =>
            Number(b.explicit) - Number(a.explicit) || (a.explicit ? 0 : a.path.localeCompare(b.path)),
        )
        .map((status) => structuredClone(status))
    );
  }

  #track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) =>
      this.#log.error({ event: "serial-hotplug-failed", err: error }, "hot-plug handling failed"),
    );
    this.#pending.add(tracked);
    void tracked.finally(() => this.#pending.delete(tracked));
  }

  async #settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async #appeared(device: PresentDevice): Promise<void> {
    if (device.explicit) {
      this.#log.info(
        { event: "serial-device-present", devicePath: device.path },
        "configured serial device present",
      );
      this.#drivers.get(device.path)?.retryNow();
      return;
    }
    // A configured path naming this same device wins: one reader per line.
    const configured = this.#watcher.present().some((d) => d.explicit && d.realPath === device.realPath);
    if (configured || !this.#running) return;
    const usb = await usbIdentityOf(device.realPath, this.#o.sysfsRoot);
    const status = this.#statusFor(device.path, false);
    status.aliases = device.aliases;
    status.usb = usb
      ? {
          vendorId: usb.vendorId,
          productId: usb.productId,
          ...(usb.serialNumber ? { serialNumber: usb.serialNumber } : {}),
          ...(usb.product ? { product: usb.product } : {}),
        }
      : null;
    const identity = usb ? `usb ${usb.vendorId}:${usb.productId}` : "no USB identity";
    const match = matchProfile({ path: device.path, aliases: device.aliases, usb }, this.#o.profiles);
    this.#log.info(
      {
        event: "serial-device-appeared",
        devicePath: device.path,
        usb: usb ? `${usb.vendorId}:${usb.productId}` : null,
        profile: match.kind === "matched" ? match.profile.id : null,
        rule: match.kind === "matched" ? match.rule : match.kind,
      },
      "serial device appeared",
    );
    if (match.kind === "none") {
      this.#fail(
        status,
        "SERIAL_NO_PROFILE",
        `no device profile matches ${device.path} (${identity}); add one in serial.profilesDir or attach it with DXGATE_SERIAL=path=profile`,
      );
      return;
    }
    if (match.kind === "ambiguous") {
      this.#fail(
        status,
        "SERIAL_PROFILE_AMBIGUOUS",
        `profiles ${match.profileIds.join(", ")} all match ${device.path} (${identity}); make one more specific (serial number) or attach it with DXGATE_SERIAL`,
      );
      return;
    }
    const existing = this.#drivers.get(device.path);
    if (existing && existing.status.profile !== match.profile.id) {
      await existing.stop();
      this.#drivers.delete(device.path);
    }
    this.#startDriver(device.path, match.profile, status);
  }

  async #disappeared(device: PresentDevice): Promise<void> {
    if (device.explicit) return; // its driver notices through its reads and keeps retrying the path
    this.#log.info({ event: "serial-device-removed", devicePath: device.path }, "serial device removed");
    const driver = this.#drivers.get(device.path);
    if (driver) await driver.stop();
    const status = this.#status.get(device.path);
    if (status && status.state !== "disconnected") {
      status.state = "disconnected";
      status.since = this.#now().toISOString();
    }
  }

  #startDriver(path: string, profile: DeviceProfile, status: SerialDeviceStatus): void {
    const protocol = findProtocol(profile.protocol, this.#o.protocols ?? SERIAL_PROTOCOLS);
    status.profile = profile.id;
    status.protocol = profile.protocol;
    if (!protocol) {
      this.#fail(
        status,
        "SERIAL_PROTOCOL_UNKNOWN",
        `profile "${profile.id}" names unknown protocol "${profile.protocol}"`,
      );
      return;
    }
    let driver = this.#drivers.get(path);
    if (!driver) {
      driver = new SerialDevice({
        path,
        profile,
        protocol,
        openLine: this.#o.openLine ?? openSerialLine,
        onRecord: this.#o.onRecord,
        log: this.#log,
        reopen: this.#o.reopen,
        idleMs: this.#o.idleMs,
        status,
        ...(this.#o.now ? { now: this.#o.now } : {}),
      });
      this.#drivers.set(path, driver);
    }
    driver.start();
  }

  #statusFor(path: string, explicit: boolean): SerialDeviceStatus {
    let status = this.#status.get(path);
    if (!status) {
      status = {
        path,
        aliases: [],
        explicit,
        usb: null,
        profile: null,
        protocol: null,
        state: "disconnected",
        since: this.#now().toISOString(),
        lastRecordAt: null,
        recordsReceived: 0,
        bytesReceived: 0,
        bytesDiscarded: 0,
        lastError: null,
      };
      this.#status.set(path, status);
    }
    return status;
  }

  #fail(status: SerialDeviceStatus, code: string, message: string): void {
    const at = this.#now().toISOString();
    if (status.state !== "error") status.since = at;
    status.state = "error";
    status.lastError = { code, message, at };
    this.#log.warn({ event: "serial-device-unusable", devicePath: status.path, code }, message);
  }

  #now(): Date {
    return this.#o.now ? this.#o.now() : new Date();
  }
}
