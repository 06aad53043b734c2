import assert from "node:assert/strict";
import { sign, verify } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { BoxRegistry } from "./registry.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-boxes-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("add registers a box: its password and key work, the file keeps neither secret", () =>
  withDir(async (dir) => {
    const admin = BoxRegistry.open(dir);
    const box = await admin.add("site-1");
    assert.equal(box.created, true);
    assert.equal(await admin.authenticate("site-1", box.password), true);
    assert.equal(await admin.authenticate("site-1", `${box.password}x`), false);
    assert.equal(await admin.authenticate("site-2", box.password), false);
    const data = Buffer.from("payload");
    const signature = sign(null, data, box.signingKeyPem);
    assert.equal(verify(null, data, admin.verifyKey("site-1")!, signature), true);
    assert.equal(admin.verifyKey("site-2"), undefined);

    const text = await readFile(join(dir, "boxes.json"), "utf8");
    assert.equal(text.includes(box.password), false);
    assert.equal(text.includes("PRIVATE KEY"), false);
    const file = JSON.parse(text);
    assert.equal(file.version, 1);
    assert.equal(file.boxes["site-1"].siteId, "site-1");
    assert.equal(file.boxes["site-1"].password.algorithm, "scrypt");
    assert.match(file.boxes["site-1"].verifyKey, /BEGIN PUBLIC KEY/);
  }));

test("a running service sees boxes added, rotated and disabled by another process without restart", () =>
  withDir(async (dir) => {
    const service = BoxRegistry.open(dir);
    assert.equal(service.verifyKey("site-a"), undefined);
    const admin = BoxRegistry.open(dir);
    const first = await admin.add("site-a");
    // Unknown a moment ago: the refusal path re-checks the file before refusing.
    assert.equal(await service.authenticate("site-a", first.password), true);
    assert.ok(service.verifyKey("site-a"));

    const second = await BoxRegistry.open(dir).add("site-a");
    assert.equal(second.created, false);
    assert.equal(await service.authenticate("site-a", second.password), true);
    assert.equal(await service.authenticate("site-a", first.password), false);

    await BoxRegistry.open(dir).disable("site-a");
    // The periodic check (at most a second late) sees the disable.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal(service.verifyKey("site-a"), undefined);
    assert.equal(await service.authenticate("site-a", second.password), false);

    const third = await BoxRegistry.open(dir).add("site-a");
    assert.equal(await service.authenticate("site-a", third.password), true);
  }));

test("certificates: an enabled box is admitted by the recorded certificate only", () =>
  withDir(async (dir) => {
    const registry = BoxRegistry.open(dir);
    assert.equal(registry.admitsCertificate("site-c", "AA:BB"), false);
    await registry.add("site-c");
    assert.equal(registry.admitsCertificate("site-c", "AA:BB"), true);
    await registry.setCertificate("site-c", {
      serial: "01",
      fingerprint256: "AA:BB",
      notAfter: "2028-01-01",
    });
    assert.equal(registry.admitsCertificate("site-c", "aa:bb"), true);
    assert.equal(registry.admitsCertificate("site-c", "AA:BC"), false);
    await registry.disable("site-c");
    assert.equal(registry.admitsCertificate("site-c", "AA:BB"), false);
    // add-box with a CA: the certificate is recorded in the same write as the new credentials.
    await registry.add("site-d", { serial: "02", fingerprint256: "CC:DD", notAfter: "2028-01-01" });
    assert.equal(registry.admitsCertificate("site-d", "CC:DD"), true);
    assert.equal(registry.admitsCertificate("site-d", "AA:BB"), false);
  }));

test("site ids are validated; unknown boxes cannot be disabled; a corrupt file is named", () =>
  withDir(async (dir) => {
    const registry = BoxRegistry.open(dir);
    await assert.rejects(registry.add("../x"), { code: "BOX_INVALID" });
    await assert.rejects(registry.add("dxgate-rc-internal"), { code: "BOX_INVALID" });
    await assert.rejects(registry.disable("nobody"), { code: "BOX_UNKNOWN" });
    await writeFile(join(dir, "boxes.json"), "{not json");
    assert.throws(() => BoxRegistry.open(dir), { code: "BOXES_INVALID" });
  }));
