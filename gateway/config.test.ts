import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "../common/config-loader.ts";
import { loadGatewayConfig } from "./config.ts";

test("the documented defaults apply when only the site id is given", () => {
  const config = loadGatewayConfig({ env: { DXGATE_SITE_ID: "xiaozhen-01" } });
  assert.equal(config.siteId, "xiaozhen-01");
  assert.equal(config.dicom.port, 11112);
  assert.equal(config.dicom.aeTitle, "DXGATE");
  assert.equal(config.http.port, 8081);
  assert.equal(config.broker.url, "mqtt://127.0.0.1:1883");
  assert.equal(config.upload.chunkSize, 262144);
});

test("the operators' environment variables override the defaults", () => {
  const config = loadGatewayConfig({
    env: {
      DXGATE_SITE_ID: "s1",
      DXGATE_DATA_DIR: "/var/lib/dxgate",
      DXGATE_DICOM_PORT: "104",
      DXGATE_HTTP_PORT: "0",
      DXGATE_BROKER_URL: "mqtts://county.example:8883",
    },
  });
  assert.equal(config.dataDir, "/var/lib/dxgate");
  assert.equal(config.dicom.port, 104);
  assert.equal(config.http.port, 0);
  assert.equal(config.broker.url, "mqtts://county.example:8883");
});

test("a start without a site id, or with a bad port or AE title, is refused naming each key", () => {
  assert.throws(
    () =>
      loadGatewayConfig({
        env: { DXGATE_DICOM_PORT: "70000", DXGATE_DICOM_AE_TITLE: "THIS_AE_TITLE_IS_TOO_LONG" },
      }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.problems.some((p) => p.includes("siteId")) &&
      error.problems.some((p) => p.startsWith("dicom.port:")) &&
      error.problems.some((p) => p.startsWith("dicom.aeTitle:")),
  );
  assert.throws(
    () => loadGatewayConfig({ env: { DXGATE_SITE_ID: "a/b" } }),
    (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.startsWith("siteId:")),
  );
});
