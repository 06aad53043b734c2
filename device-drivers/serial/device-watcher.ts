/**
 * Hot-plug for serial devices. serialport has no plug events, and `SerialPort.list()` needs udevadm
 * (absent in containers), so the box watches the directories where the kernel and udev put serial
 * devices — `/dev` for the ttyUSB and ttyACM nodes, `/dev/serial/by-id` for their stable names — with fs.watch
 * for promptness and a periodic rescan as the backstop (inotify misses things: a directory created
 * after we looked, events dropped under load, filesystems without inotify). Explicitly configured
 * paths (DXGATE_SERIAL; may be a symlink that a pseudo-terminal pair creates and removes) are
 * watched the same way, through their parent directory.
 *
 * The watcher only reports presence. Opening, reading and deciding a device is gone because its
 * reads fail is the driver's job (./serial-device.ts): a node can stay in /dev while the cable is out.
 */

import { type FSWatcher, watch } from "node:fs";
import { readdir, realpath } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Logger } from "../../common/logger.ts";

export interface WatchedDirectory {
  dir: string;
  /** Entry names that are serial devices. */
  pattern: RegExp;
}

export interface PresentDevice {
  /** The key: the device node a directory entry resolves to, or the configured path as given. */
  path: string;
  /** What `path` resolves to now (a pty link's target changes when the pair is re-created). */
  realPath: string;
  /** Other entries resolving to the same node (/dev/serial/by-id/…), sorted. */
  aliases: string[];
  /** true for a configured path, false for one found in a watched directory. */
  explicit: boolean;
}

export interface DeviceWatcherOptions {
  directories: readonly WatchedDirectory[];
  /** Configured device paths, watched for existence. */
  paths?: readonly string[];
  rescanMs: number;
  onAppeared(device: PresentDevice): void;
  onDisappeared(device: PresentDevice): void;
  log: Logger;
}

/** The default: USB-serial adapters and CDC-ACM devices, and their stable by-id names. */
export const DEFAULT_WATCHED_DIRECTORIES: readonly WatchedDirectory[] = [
  { dir: "/dev", pattern: /^tty(USB|ACM)\d+$/ },
  { dir: "/dev/serial/by-id", pattern: /^[^.]/ },
];

/** fs.watch events come in bursts (a link created, then its target's permissions changed): scan once. */
const SETTLE_MS = 50;

export class DeviceWatcher {
  readonly #o: DeviceWatcherOptions;
  readonly #present = new Map<string, PresentDevice>();
  readonly #watchers = new Map<string, FSWatcher>();
  /** Per watched directory, which entry names matter (several configured paths may share one). */
  readonly #relevant = new Map<string, Array<(name: string) => boolean>>();
  #timer: NodeJS.Timeout | undefined;
  #settle: NodeJS.Timeout | undefined;
  #scanning: Promise<void> = Promise.resolve();
  #running = false;

  constructor(options: DeviceWatcherOptions) {
    this.#o = options;
    const add = (dir: string, test: (name: string) => boolean) =>
      this.#relevant.set(dir, [...(this.#relevant.get(dir) ?? []), test]);
    for (const { dir, pattern } of options.directories) add(dir, (name) => pattern.test(name));
    for (const path of options.paths ?? []) add(dirname(path), (name) => name === basename(path));
  }

  /** Resolves after the first scan, so devices present at start are reported before it returns. */
  async start(): Promise<void> {
    this.#running = true;
    await this.scanNow();
    this.#schedule();
  }

  stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    clearTimeout(this.#settle);
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    return this.#scanning;
  }

  present(): PresentDevice[] {
    return [...this.#present.values()];
  }

  /** One scan now, after any scan already running. */
  scanNow(): Promise<void> {
    const scan = this.#scanning.then(() => this.#scan());
    this.#scanning = scan;
    return scan;
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      void this.scanNow().finally(() => this.#schedule());
    }, this.#o.rescanMs);
    this.#timer.unref();
  }

  #soon(): void {
    if (!this.#running || this.#settle) return;
    this.#settle = setTimeout(() => {
      this.#settle = undefined;
      void this.scanNow();
    }, SETTLE_MS);
    this.#settle.unref();
  }

  /** Never rejects: whatever cannot be read counts as absent until the next scan. */
  async #scan(): Promise<void> {
    if (!this.#running) return;
    const found = new Map<string, PresentDevice>();
    for (const { dir, pattern } of this.#o.directories) {
      this.#ensureWatch(dir);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue; // /dev/serial/by-id exists only while some device is plugged in
      }
      for (const name of names.filter((n) => pattern.test(n))) {
        const entry = join(dir, name);
        const real = await realpath(entry).catch(() => undefined);
        if (!real) continue; // a by-id link left dangling for a moment after an unplug
        const device = found.get(real) ?? { path: real, realPath: real, aliases: [], explicit: false };
        if (entry !== real && !device.aliases.includes(entry)) device.aliases.push(entry);
        found.set(real, device);
      }
    }
    for (const path of this.#o.paths ?? []) {
      this.#ensureWatch(dirname(path));
      const real = await realpath(path).catch(() => undefined);
      if (real) found.set(path, { path, realPath: real, aliases: [], explicit: true });
    }
    for (const device of found.values()) device.aliases.sort();
    if (!this.#running) return;

    for (const [key, device] of this.#present) {
      const now = found.get(key);
      if (!now || now.realPath !== device.realPath) {
        this.#present.delete(key);
        this.#o.onDisappeared(device);
      }
    }
    for (const [key, device] of found) {
      const known = this.#present.get(key);
      if (known) {
        known.aliases = device.aliases;
        continue;
      }
      this.#present.set(key, device);
      this.#o.onAppeared(device);
    }
  }

  /** Watch `dir` if it exists and is not watched yet; a watch that fails is retried on the next scan. */
  #ensureWatch(dir: string): void {
    if (this.#watchers.has(dir) || !this.#running) return;
    const tests = this.#relevant.get(dir) ?? [];
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        // Some platforms give no name: rescan anyway.
        if (!name || tests.some((test) => test(name.toString()))) this.#soon();
      });
      watcher.on("error", () => {
        watcher.close();
        this.#watchers.delete(dir);
        this.#soon();
      });
      this.#watchers.set(dir, watcher);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") {
        this.#o.log.debug(
          { event: "serial-watch-failed", dir, code },
          "cannot watch directory; rescans only",
        );
      }
    }
  }
}
