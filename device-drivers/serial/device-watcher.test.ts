import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../common/logger.ts";
import { DeviceWatcher, type PresentDevice } from "./device-watcher.ts";
import { openPtyPair } from "./test-support.ts";

/** Collects the watcher's reports; `next` waits (generously) for the next one. */
function recorder() {
  const events: Array<{ kind: "appeared" | "disappeared"; device: PresentDevice }> = [];
  const waiters: Array<() => void> = [];
  const push = (kind: "appeared" | "disappeared") => (device: PresentDevice) => {
    events.push({ kind, device });
    for (const wake of waiters.splice(0)) wake();
  };
  return {
    events,
    onAppeared: push("appeared"),
    onDisappeared: push("disappeared"),
    async until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; saw ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
  };
}

test("a device node appearing and disappearing is reported through fs.watch, with its by-id alias", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "dxgate-watch-"));
  const dev = join(root, "dev");
  const byId = join(dev, "serial", "by-id");
  await mkdir(byId, { recursive: true });
  const seen = recorder();
  const watcher = new DeviceWatcher({
    directories: [
      { dir: dev, pattern: /^tty(USB|ACM)\d+$/ },
      { dir: byId, pattern: /^[^.]/ },
    ],
    // Far longer than the test waits: only fs.watch can report in time.
    rescanMs: 600_000,
    ...seen,
    log: silentLogger(),
  });
  t.after(async () => {
    await watcher.stop();
    await rm(root, { recursive: true, force: true });
  });
  await writeFile(join(dev, "ttyS0"), ""); // not a USB-serial name: ignored
  await watcher.start();
  assert.equal(seen.events.length, 0);

  await writeFile(join(dev, "ttyUSB0"), "");
  await symlink(join(dev, "ttyUSB0"), join(byId, "usb-FTDI_FT232R_A1-if00-port0"));
  await seen.until(() => seen.events.length >= 1, "ttyUSB0 to appear");
  const appeared = seen.events[0]!;
  assert.equal(appeared.kind, "appeared");
  assert.equal(appeared.device.path, join(dev, "ttyUSB0"));
  assert.equal(appeared.device.explicit, false);
  await seen.until(() => watcher.present()[0]?.aliases.length === 1, "the by-id alias");
  assert.deepEqual(watcher.present()[0]!.aliases, [join(byId, "usb-FTDI_FT232R_A1-if00-port0")]);

  await unlink(join(byId, "usb-FTDI_FT232R_A1-if00-port0"));
  await unlink(join(dev, "ttyUSB0"));
  await seen.until(() => seen.events.length >= 2, "ttyUSB0 to disappear");
  assert.equal(seen.events[1]!.kind, "disappeared");
  assert.equal(seen.events[1]!.device.path, join(dev, "ttyUSB0"));
  assert.deepEqual(watcher.present(), []);
});

test("the periodic rescan finds a device in a directory that did not exist when watching began", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "dxgate-watch-"));
  const byId = join(root, "serial", "by-id");
  const seen = recorder();
  const watcher = new DeviceWatcher({
    directories: [{ dir: byId, pattern: /^[^.]/ }],
    rescanMs: 100,
    ...seen,
    log: silentLogger(),
  });
  t.after(async () => {
    await watcher.stop();
    await rm(root, { recursive: true, force: true });
  });
  await watcher.start();
  await mkdir(byId, { recursive: true });
  await writeFile(join(root, "ttyACM0"), "");
  await symlink(join(root, "ttyACM0"), join(byId, "usb-Acme_ECG-if00"));
  await seen.until(() => seen.events.length >= 1, "the device");
  assert.equal(seen.events[0]!.device.path, join(root, "ttyACM0"));
  // Once the directory exists it is watched too: removal is seen.
  await rm(byId, { recursive: true });
  await seen.until(() => seen.events.length >= 2, "its removal");
  assert.equal(seen.events[1]!.kind, "disappeared");
});

test("a configured pty link is reported when socat creates it, gone when socat exits, back when it returns", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "dxgate-watch-"));
  const link = join(root, "ecg-cart");
  const seen = recorder();
  const watcher = new DeviceWatcher({
    directories: [],
    paths: [link],
    rescanMs: 600_000,
    ...seen,
    log: silentLogger(),
  });
  t.after(async () => {
    await watcher.stop();
    await rm(root, { recursive: true, force: true });
  });
  await watcher.start();
  assert.equal(seen.events.length, 0);

  const first = await openPtyPair(link, join(root, "cart-end"));
  await seen.until(() => seen.events.length >= 1, "the link");
  assert.deepEqual(
    {
      kind: seen.events[0]!.kind,
      path: seen.events[0]!.device.path,
      explicit: seen.events[0]!.device.explicit,
    },
    { kind: "appeared", path: link, explicit: true },
  );
  assert.match(seen.events[0]!.device.realPath, /^\/dev\/pts\/\d+$/);

  await first.close();
  await seen.until(() => seen.events.length >= 2, "the link to go");
  assert.equal(seen.events[1]!.kind, "disappeared");

  const second = await openPtyPair(link, join(root, "cart-end"));
  t.after(() => second.close());
  await seen.until(() => seen.events.length >= 3, "the link to return");
  assert.equal(seen.events[2]!.kind, "appeared");
});
