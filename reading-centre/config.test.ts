import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError } from "../common/config-loader.ts";
import { loadReadingCentreConfig } from "./config.ts";
import { makeDataDir } from "./testing/harness.ts";

test("defaults fill every key, nested ones included, and the result is frozen", () => {
  const config = loadReadingCentreConfig({ env: {} });
  assert.equal(config.dataDir, "./data/reading-centre");
  assert.equal(config.countyId, "county");
  assert.deepEqual(config.http, { host: "127.0.0.1", port: 8080 });
  assert.deepEqual(config.mqtt, { host: "127.0.0.1", port: 1883 });
  assert.equal(config.mqtt.brokerUrl, undefined);
  assert.equal(config.demo, false);
  assert.equal(config.reportRetryMs, 10000);
  assert.equal(config.log.level, "info");
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.http));
});

test("the environment table sets its keys over the file", async () => {
  const dir = await makeDataDir();
  const file = join(dir, "rc.json");
  await writeFile(file, JSON.stringify({ countyId: "from-file", http: { port: 9000 }, reportRetryMs: 500 }));
  const config = loadReadingCentreConfig({
    file,
    env: {
      DXGATE_RC_DATA_DIR: "/srv/rc",
      DXGATE_RC_HTTP_PORT: "0",
      DXGATE_RC_HTTP_HOST: "0.0.0.0",
      DXGATE_RC_MQTT_PORT: "1884",
      DXGATE_RC_MQTT_HOST: "::",
      DXGATE_RC_BROKER_URL: "mqtts://broker.example:8883",
      DXGATE_RC_COUNTY_ID: "lankao",
      DXGATE_RC_DEMO: "true",
      DXGATE_RC_REPORT_RETRY_MS: "750",
      DXGATE_LOG_LEVEL: "debug",
    },
  });
  assert.equal(config.dataDir, "/srv/rc");
  assert.deepEqual(config.http, { host: "0.0.0.0", port: 0 });
  assert.deepEqual(config.mqtt, { host: "::", port: 1884, brokerUrl: "mqtts://broker.example:8883" });
  assert.equal(config.countyId, "lankao");
  assert.equal(config.demo, true);
  assert.equal(config.reportRetryMs, 750);
  assert.equal(config.log.level, "debug");
});

test("every invalid key is named at once", () => {
  assert.throws(
    () =>
      loadReadingCentreConfig({
        env: { DXGATE_RC_DEMO: "perhaps", DXGATE_RC_MQTT_PORT: "70000" },
        overrides: { countyId: "no/slash", "http.nope": 1 },
      }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      const text = error.problems.join("\n");
      for (const key of ["demo", "mqtt.port", "countyId", "http.nope"])
        assert.match(text, new RegExp(key.replace(".", "\\.")));
      return true;
    },
  );
});
