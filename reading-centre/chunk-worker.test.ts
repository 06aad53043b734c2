import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);

test("a chunk worker without an external broker URL is a configuration error (78)", async () => {
  await assert.rejects(
    run(process.execPath, [join(import.meta.dirname, "chunk-worker.ts")], {
      env: { ...process.env, DXGATE_RC_BROKER_URL: "", DXGATE_RC_CONFIG: "" },
      timeout: 20_000,
    }),
    (error: { code?: number; stderr?: string }) => {
      assert.equal(error.code, 78);
      assert.match(error.stderr ?? "", /DXGATE_RC_BROKER_URL/);
      return true;
    },
  );
});
