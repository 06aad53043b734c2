import assert from "node:assert/strict";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { DxgateError } from "../../common/errors.ts";
import { silentLogger } from "../../common/logger.ts";
import { createReadingCentre } from "../app.ts";
import { loadReadingCentreConfig } from "../config.ts";
import { makeDataDir } from "../testing/harness.ts";
import { UserStore } from "./users.ts";

test("passwords are stored as salted scrypt hashes and verified", async () => {
  const dir = await makeDataDir();
  try {
    const users = await UserStore.open(dir);
    assert.equal(await users.setPassword("bob", "correct horse"), "created");
    assert.equal(await users.setPassword("carol", "correct horse"), "created");
    const text = await readFile(join(dir, "users.json"), "utf8");
    assert.ok(!text.includes("correct horse"));
    const file = JSON.parse(text) as { users: Array<{ password: { salt: string; hash: string } }> };
    assert.notEqual(file.users[0]!.password.salt, file.users[1]!.password.salt);
    assert.notEqual(file.users[0]!.password.hash, file.users[1]!.password.hash);

    const reopened = await UserStore.open(dir);
    assert.equal(await reopened.verify("bob", "correct horse"), "bob");
    assert.equal(await reopened.verify("bob", "wrong"), undefined);
    assert.equal(await reopened.verify("nobody", "correct horse"), undefined);
    assert.equal(await reopened.setPassword("bob", "battery staple"), "updated");
    assert.equal(await reopened.verify("bob", "battery staple"), "bob");
    await assert.rejects(reopened.setPassword("bad/name", "x"), { code: "USER_INVALID" });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("outside demo mode the reading centre refuses to start while a user has the password demo", async () => {
  const dir = await makeDataDir();
  try {
    await (await UserStore.open(dir)).setPassword("demo", "demo");
    const config = loadReadingCentreConfig({
      env: {},
      overrides: { dataDir: dir, "http.port": 0, "mqtt.port": 0, demo: false },
    });
    const app = createReadingCentre(config, { log: silentLogger() });
    await assert.rejects(app.start(), (error: unknown) => {
      assert.ok(error instanceof DxgateError);
      assert.equal(error.code, "DEFAULT_PASSWORD");
      assert.deepEqual(error.details?.users, ["demo"]);
      return true;
    });

    // With a real password it starts.
    await (await UserStore.open(dir)).setPassword("demo", "a-real-password");
    const fixed = createReadingCentre(config, { log: silentLogger() });
    const ports = await fixed.start();
    assert.ok(ports.httpPort > 0 && ports.mqttPort > 0);
    await fixed.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
