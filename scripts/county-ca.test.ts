import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const SCRIPT = fileURLToPath(new URL("./county-ca.ts", import.meta.url));
const exec = promisify(execFile);

async function ca(
  dataDir: string,
  args: string[],
): Promise<{ code: number; json: Record<string, unknown> | undefined; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [SCRIPT, ...args], {
      env: { ...process.env, DXGATE_RC_DATA_DIR: dataDir, DXGATE_RC_COUNTY_ID: "lankao" },
    });
    return { code: 0, json: JSON.parse(stdout) as Record<string, unknown>, stderr };
  } catch (error) {
    const e = error as { code: number; stderr: string };
    return { code: e.code, json: undefined, stderr: e.stderr };
  }
}

test("county-ca: init keeps an existing CA; server and box certificates chain to it with the right names", async () => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-ca-"));
  try {
    const init = await ca(dir, ["init"]);
    assert.equal(init.code, 0, init.stderr);
    assert.equal(init.json?.created, true);
    const caKey = join(dir, "pki", "ca.key");
    assert.equal((await stat(caKey)).mode & 0o777, 0o600);
    const caPem = await readFile(join(dir, "pki", "ca.crt"));
    assert.equal((await ca(dir, ["init"])).json?.created, false);
    assert.deepEqual(await readFile(join(dir, "pki", "ca.crt")), caPem, "an existing CA is never replaced");

    const authority = new X509Certificate(caPem);
    assert.equal(authority.ca, true);
    assert.match(authority.subject, /O=lankao/);

    const server = await ca(dir, ["server", "county.example", "127.0.0.1"]);
    assert.equal(server.code, 0, server.stderr);
    const serverCert = new X509Certificate(await readFile(String(server.json?.cert)));
    assert.equal(serverCert.verify(authority.publicKey), true);
    assert.equal(serverCert.subjectAltName, "DNS:county.example, IP Address:127.0.0.1");
    assert.equal(serverCert.checkHost("county.example"), "county.example");
    assert.equal((await stat(String(server.json?.key))).mode & 0o777, 0o600);

    const box = await ca(dir, ["box", "site-7"]);
    assert.equal(box.code, 0, box.stderr);
    const boxCert = new X509Certificate(await readFile(String(box.json?.cert)));
    assert.equal(boxCert.verify(authority.publicKey), true);
    assert.match(boxCert.subject, /CN=site-7/);
    assert.match(boxCert.subject, /O=lankao/);
    assert.equal(boxCert.fingerprint256, box.json?.fingerprint256);
    assert.equal(boxCert.ca, false);
    assert.equal((await stat(String(box.json?.key))).mode & 0o777, 0o600);

    assert.equal((await ca(dir, ["server", "bad host!"])).code, 64);
    assert.equal((await ca(dir, ["box", "../x"])).code, 64);
    assert.equal((await ca(dir, ["revoke", "x"])).code, 64);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("county-ca: issuing before init says to run init", async () => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-ca-"));
  try {
    const result = await ca(dir, ["box", "site-1"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no county CA .*county-ca -- init/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
