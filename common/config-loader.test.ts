import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, loadConfig } from "./config-loader.ts";

const schema = {
  type: "object",
  additionalProperties: false,
  required: ["siteId"],
  properties: {
    siteId: { type: "string", minLength: 1 },
    dicom: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        port: { type: "integer", minimum: 0, maximum: 65535, default: 11112 },
        aeTitle: { type: "string", default: "DXGATE" },
      },
    },
  },
};
const envTable = [
  { env: "X_SITE", key: "siteId", type: "string" },
  { env: "X_PORT", key: "dicom.port", type: "integer" },
] as const;

test("defaults come from the schema, the file overrides them, the environment overrides the file", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-cfg-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, "c.json");
  await writeFile(file, JSON.stringify({ siteId: "from-file", dicom: { aeTitle: "FILEAE" } }));
  const config = loadConfig<{ siteId: string; dicom: { port: number; aeTitle: string } }>({
    schema,
    envTable,
    file,
    env: { X_PORT: "4242" },
  });
  assert.deepEqual(config, { siteId: "from-file", dicom: { port: 4242, aeTitle: "FILEAE" } });
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.dicom), "config must be frozen");
});

test("every problem is reported at once, each naming its key", () => {
  try {
    loadConfig({ schema, envTable, env: { X_PORT: "70000" }, overrides: { dicom: { colour: "red" } } });
    assert.fail("expected a ConfigError");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    const text = error.problems.join("\n");
    assert.match(text, /dicom\.port: must be <= 65535 \(got 70000\)/);
    assert.match(text, /dicom\.colour: unknown key/);
    assert.match(text, /^siteId: is required \(set it in the config file or X_SITE\)$/m);
    assert.equal(error.problems.length, 3);
  }
});

test("an environment value of the wrong type names the variable and the key", () => {
  assert.throws(
    () => loadConfig({ schema, envTable, env: { X_SITE: "s", X_PORT: "eleven" } }),
    (error: unknown) =>
      error instanceof ConfigError && /dicom\.port \(from X_PORT\): must be an integer/.test(error.message),
  );
});

test("an unreadable config file is a ConfigError naming the file", () => {
  assert.throws(
    () => loadConfig({ schema, envTable, file: "/nonexistent/dxgate.json", env: {} }),
    (error: unknown) =>
      error instanceof ConfigError && /config file \/nonexistent\/dxgate\.json/.test(error.message),
  );
});
