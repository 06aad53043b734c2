import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../common/logger.ts";
import { openStudyService } from "../test-support.ts";
import { createApi } from "./routes.ts";

test("the API lists studies with their state and answers unknown things in the one error shape", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "dxgate-api-"));
  const { studies } = await openStudyService(dataDir);
  const api = createApi({ studies, log: silentLogger(), siteId: "site-api", uploaderConnected: () => false });
  const server = createServer(api.handle).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  t.after(async () => {
    server.close();
    await studies.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  await studies.store({
    attributes: {
      studyInstanceUid: "1.2.9.1",
      seriesInstanceUid: "1.2.9.1.1",
      sopInstanceUid: "1.2.9.1.1.1",
      sopClassUid: "1.2.840.10008.5.1.4.1.1.1.1",
      transferSyntaxUid: "1.2.840.10008.1.2.1",
      modality: "DX",
      patientId: "P1",
      patientName: "Li^Si",
      patientSex: "F",
      patientBirthDate: "",
      patientAge: "",
      studyDate: "20261125",
      studyTime: "",
      studyDescription: "Chest",
      accessionNumber: "",
    },
    source: { kind: "dicom", callingAeTitle: "DR1", calledAeTitle: "DXGATE", remoteAddress: "127.0.0.1" },
    part10: { kind: "bytes", bytes: Buffer.from("a part 10 file") },
  });

  const health = (await (await fetch(`${base}/api/health`)).json()) as Record<string, string>;
  assert.deepEqual(health, { status: "ok", siteId: "site-api", uplink: "offline" });

  const list = (await (await fetch(`${base}/api/studies`)).json()) as Array<Record<string, unknown>>;
  assert.equal(list.length, 1);
  assert.equal(list[0]?.studyInstanceUid, "1.2.9.1");
  assert.equal(list[0]?.state, "stored");
  assert.equal(list[0]?.report, null);

  const one = (await (await fetch(`${base}/api/studies/1.2.9.1`)).json()) as {
    instances: Array<{ size: number }>;
  };
  assert.deepEqual(
    one.instances.map((i) => i.size),
    [14],
  );

  const missing = await fetch(`${base}/api/studies/9.9.9`);
  assert.equal(missing.status, 404);
  assert.deepEqual(((await missing.json()) as { error: { code: string } }).error.code, "STUDY_NOT_FOUND");
  const wrongMethod = await fetch(`${base}/api/studies`, { method: "DELETE" });
  assert.equal(wrongMethod.status, 405);
  assert.equal(
    ((await wrongMethod.json()) as { error: { code: string } }).error.code,
    "HTTP_METHOD_NOT_ALLOWED",
  );
  assert.equal((await fetch(`${base}/nowhere`)).status, 404);
});
