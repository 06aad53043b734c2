import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { ReceivedInstance } from "../../device-drivers/types.ts";
import { receivedInstance } from "../test-support.ts";
import { BelowReserveError, DiskReserve, statfsProbe } from "./disk-reserve.ts";
import { Spool } from "./spool.ts";

const MiB = 1024 * 1024;

/** A disk whose free space the test sets, counting how often it was asked. */
function fakeDisk(free: number) {
  const disk = {
    free,
    probes: 0,
    probe: async () => {
      disk.probes += 1;
      return disk.free;
    },
  };
  return disk;
}

function clock() {
  const c = { t: 0, now: () => c.t };
  return c;
}

test("above the reserve check() passes; below it throws a retryable ENOSPC", async () => {
  const disk = fakeDisk(10 * MiB);
  const reserve = new DiskReserve({ path: "/x", reserveBytes: 5 * MiB, probe: disk.probe, checkEveryMs: 0 });
  await reserve.check();
  disk.free = 4 * MiB;
  const error = await reserve.check().then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof BelowReserveError);
  assert.equal(error.code, "ENOSPC");
  assert.match(error.message, /4 MiB is below the reserve of 5 MiB/);
  assert.equal(reserve.status().low, true);
});

test("space returning is noticed by itself at the next probe", async () => {
  const disk = fakeDisk(1 * MiB);
  const c = clock();
  const reserve = new DiskReserve({
    path: "/x",
    reserveBytes: 5 * MiB,
    probe: disk.probe,
    checkEveryMs: 1000,
    now: c.now,
  });
  await assert.rejects(reserve.check(), BelowReserveError);
  disk.free = 100 * MiB;
  c.t = 999;
  await assert.rejects(reserve.check(), BelowReserveError, "still the cached figure");
  c.t = 1000;
  await reserve.check();
  assert.equal(reserve.status().low, false);
});

test("statfs is cached: at most one probe per interval, shared by concurrent checks", async () => {
  const disk = fakeDisk(100 * MiB);
  const c = clock();
  const reserve = new DiskReserve({
    path: "/x",
    reserveBytes: 5 * MiB,
    probe: disk.probe,
    checkEveryMs: 1000,
    now: c.now,
  });
  await Promise.all(Array.from({ length: 20 }, () => reserve.check()));
  c.t = 500;
  await reserve.check();
  assert.equal(disk.probes, 1);
  c.t = 1500;
  await reserve.check();
  assert.equal(disk.probes, 2);
});

test("bytes stored between probes count against the cached free space", async () => {
  const disk = fakeDisk(10 * MiB);
  const c = clock();
  const reserve = new DiskReserve({
    path: "/x",
    reserveBytes: 5 * MiB,
    probe: disk.probe,
    checkEveryMs: 60_000,
    now: c.now,
  });
  await reserve.check();
  reserve.consumed(4 * MiB);
  await reserve.check();
  reserve.consumed(2 * MiB);
  await assert.rejects(reserve.check(), BelowReserveError);
  assert.equal(disk.probes, 1, "no new probe was needed to see it");
});

test("invalidate() forces a probe at the next check (a write met ENOSPC)", async () => {
  const disk = fakeDisk(100 * MiB);
  const c = clock();
  const reserve = new DiskReserve({
    path: "/x",
    reserveBytes: 5 * MiB,
    probe: disk.probe,
    checkEveryMs: 60_000,
    now: c.now,
  });
  await reserve.check();
  disk.free = 0;
  reserve.invalidate();
  await assert.rejects(reserve.check(), BelowReserveError);
  assert.equal(disk.probes, 2);
});

test("a reserve of 0 is off (never probes); a failing probe lets the write decide", async () => {
  const disk = fakeDisk(0);
  await new DiskReserve({ path: "/x", reserveBytes: 0, probe: disk.probe }).check();
  assert.equal(disk.probes, 0);
  const failing = new DiskReserve({
    path: "/x",
    reserveBytes: 5 * MiB,
    probe: async () => {
      throw new Error("EIO");
    },
  });
  await failing.check();
  assert.equal(failing.status().freeBytes, undefined);
});

test("only transitions are logged (a full disk refusing many instances does not flood the log)", async () => {
  const disk = fakeDisk(1 * MiB);
  const events: string[] = [];
  const log = {
    debug() {},
    info: (o: object) => events.push((o as { event: string }).event),
    warn: (o: object) => events.push((o as { event: string }).event),
    error() {},
    child() {
      return log;
    },
  };
  const reserve = new DiskReserve({
    path: "/x",
    reserveBytes: 5 * MiB,
    probe: disk.probe,
    checkEveryMs: 0,
    log,
  });
  for (let i = 0; i < 5; i += 1) await reserve.check().catch(() => undefined);
  disk.free = 50 * MiB;
  for (let i = 0; i < 5; i += 1) await reserve.check();
  assert.deepEqual(events, ["spool-below-reserve", "spool-reserve-ok"]);
});

test("statfsProbe reads the real filesystem's available bytes", async () => {
  const free = await statfsProbe(tmpdir());
  assert.ok(Number.isFinite(free) && free > 0);
});

const instance = (sop: string, part10: ReceivedInstance["part10"]) =>
  receivedInstance({ sopInstanceUid: sop }, part10);

test("Spool: below the reserve stagingPath() and put(bytes) refuse; a staged file is still taken", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-reserve-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const disk = fakeDisk(100 * MiB);
  const reserve = new DiskReserve({ path: dir, reserveBytes: 5 * MiB, probe: disk.probe, checkEveryMs: 0 });
  const spool = new Spool(dir, { reserve });
  await spool.open();
  const staged = await spool.stagingPath();
  await writeFile(staged, "staged before the disk filled");

  disk.free = 1 * MiB;
  await assert.rejects(spool.stagingPath(), { name: "BelowReserveError", code: "ENOSPC" });
  await assert.rejects(
    spool.put(instance("1.2.840.1.1.2", { kind: "bytes", bytes: new Uint8Array(8) }), "2026-01-01T00:00:00Z"),
    { code: "ENOSPC" },
  );
  // Already on disk: refusing it would free nothing and make the modality send it again.
  const result = await spool.put(
    instance("1.2.840.1.1.1", { kind: "file", path: staged }),
    "2026-01-01T00:00:00Z",
  );
  assert.equal(result.outcome, "stored");
  assert.deepEqual(
    (await spool.scan()).map((i) => i.attributes.sopInstanceUid),
    ["1.2.840.1.1.1"],
  );

  disk.free = 100 * MiB;
  await spool.put(
    instance("1.2.840.1.1.2", { kind: "bytes", bytes: new Uint8Array(8) }),
    "2026-01-01T00:00:00Z",
  );
  assert.equal(
    (await readdir(join(dir, "studies", "1.2.840.1"))).filter((n) => n.endsWith(".dcm")).length,
    2,
  );
});
