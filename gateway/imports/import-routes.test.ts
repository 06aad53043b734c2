import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Router } from "../../common/http-router.ts";
import { silentLogger } from "../../common/logger.ts";
import { createMediaImporter, type ImportJob } from "../../device-drivers/index.ts";
import { treeDigest, writeMedium } from "../../test/fixtures/make-medium.ts";
import { openStudyService } from "../test-support.ts";
import { addImportRoutes } from "./import-routes.ts";

test("a stick imported into the real spool: studies assembled, jobs in the API, the spool answers duplicate", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-imports-"));
  const { spool, studies } = await openStudyService(join(dir, "data"));
  const stick = join(dir, "media", "tech", "NO_NAME");
  const medium = await writeMedium(stick, { dicomdir: true });
  const before = await treeDigest(stick);
  const importer = (stateDir: string) =>
    createMediaImporter({
      sink: studies,
      log: silentLogger(),
      stateDir,
      folders: [],
      usbMountRoot: join(dir, "media"),
      scanIntervalMs: 3_600_000,
      listMounts: async () => [stick],
    });
  const first = importer(join(dir, "data", "imports"));
  const router = new Router(silentLogger());
  addImportRoutes(router, first);
  const server = createServer(router.handle).listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  t.after(async () => {
    server.close();
    await first.stop();
    await studies.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  await first.start();
  await first.scanNow();
  const jobs = (await (await fetch(`${base}/api/imports`)).json()) as ImportJob[];
  assert.equal(jobs.length, 1);
  const job = jobs[0]!;
  assert.deepEqual(
    {
      source: job.source,
      state: job.state,
      found: job.found,
      imported: job.imported,
      duplicates: job.duplicates,
    },
    { source: "usb", state: "done", found: 4, imported: 3, duplicates: 0 },
  );
  assert.deepEqual(
    job.failed.map((f) => f.file),
    [medium.truncated],
  );
  assert.doesNotMatch(JSON.stringify(jobs), /Wang/, "no patient data in the job JSON");
  assert.deepEqual(await (await fetch(`${base}/api/imports/${job.id}`)).json(), job);
  const missing = await fetch(`${base}/api/imports/nope`);
  assert.equal(missing.status, 404);

  const list = studies.list();
  assert.equal(list.length, 2);
  assert.deepEqual(list.map((s) => s.instanceCount).sort(), [1, 2]);
  const spooled = await spool.scan();
  assert.deepEqual(spooled.map((i) => i.attributes.sopInstanceUid).sort(), [...medium.valid.values()].sort());
  assert.ok(spooled.every((i) => i.source.kind === "file"));

  // A second importer with no ledger (e.g. state lost): the spool itself says duplicate.
  const second = importer(join(dir, "other-state"));
  t.after(() => second.stop());
  await second.start();
  await second.scanNow();
  const [again] = second.jobs();
  assert.equal(again?.imported, 0);
  assert.equal(again?.duplicates, 3);
  assert.equal((await spool.scan()).length, 3);
  assert.equal(await treeDigest(stick), before, "the stick is unchanged");
});
