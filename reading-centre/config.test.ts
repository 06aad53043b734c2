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
  assert.deepEqual(config.mqtt, {
    host: "127.0.0.1",
    port: 1883,
    maxChunkBytes: 262144,
    sharedChunks: false,
  });
  assert.equal(config.mqtt.brokerUrl, undefined);
  assert.equal(config.mqtt.tls, undefined);
  assert.equal(config.quotas.stagingBytesPerBox, 8 * 1024 ** 3);
  assert.equal(config.security.requireSignatures, true);
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
      DXGATE_RC_BROKER_CA: "/etc/dxgate/broker-ca.crt",
      DXGATE_RC_SHARED_CHUNKS: "1",
      DXGATE_RC_COUNTY_ID: "lankao",
      DXGATE_RC_DEMO: "true",
      DXGATE_RC_REPORT_RETRY_MS: "750",
      DXGATE_LOG_LEVEL: "debug",
    },
  });
  assert.equal(config.dataDir, "/srv/rc");
  assert.deepEqual(config.http, { host: "0.0.0.0", port: 0 });
  assert.deepEqual(config.mqtt, {
    host: "::",
    port: 1884,
    brokerUrl: "mqtts://broker.example:8883",
    brokerCa: "/etc/dxgate/broker-ca.crt",
    sharedChunks: true,
    maxChunkBytes: 262144,
  });
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

test("TLS listener, public URL, signatures, chunk ceiling and quota come from the environment", () => {
  const config = loadReadingCentreConfig({
    env: {
      DXGATE_RC_MQTT_TLS_PORT: "8884",
      DXGATE_RC_MQTT_TLS_HOST: "127.0.0.1",
      DXGATE_RC_MQTT_TLS_CERT: "/pki/server.crt",
      DXGATE_RC_MQTT_TLS_KEY: "/pki/server.key",
      DXGATE_RC_MQTT_TLS_CA: "/pki/ca.crt",
      DXGATE_RC_MQTT_PUBLIC_URL: "mqtts://county.example:8884",
      DXGATE_RC_REQUIRE_SIGNATURES: "0",
      DXGATE_RC_MAX_CHUNK_BYTES: "65536",
      DXGATE_RC_STAGING_QUOTA_BYTES: "1048576",
    },
  });
  assert.deepEqual(config.mqtt.tls, {
    host: "127.0.0.1",
    port: 8884,
    cert: "/pki/server.crt",
    key: "/pki/server.key",
    ca: "/pki/ca.crt",
  });
  assert.equal(config.mqtt.publicUrl, "mqtts://county.example:8884");
  assert.equal(config.security.requireSignatures, false);
  assert.equal(config.mqtt.maxChunkBytes, 65536);
  assert.equal(config.quotas.stagingBytesPerBox, 1048576);
});

test("a TLS listener needs its certificate and key; the chunk ceiling stays within the protocol's limits", () => {
  assert.throws(
    () =>
      loadReadingCentreConfig({ env: { DXGATE_RC_MQTT_TLS_PORT: "8883", DXGATE_RC_MAX_CHUNK_BYTES: "512" } }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      const text = error.problems.join("\n");
      assert.match(
        text,
        /mqtt\.tls\.cert: is required \(set it in the config file or DXGATE_RC_MQTT_TLS_CERT\)/,
      );
      assert.match(text, /mqtt\.tls\.key: is required/);
      assert.match(text, /mqtt\.maxChunkBytes/);
      return true;
    },
  );
});
