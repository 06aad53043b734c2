/**
 * Throwaway certificates for TLS tests, made with the openssl CLI in a directory the test owns: a CA,
 * a server certificate for 127.0.0.1 and localhost signed by it, a client certificate (mutual TLS),
 * and a second, unrelated CA (a box that trusts only it must never connect).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { initCa, issueBox, issueServer, pkiPaths } from "../../reading-centre/boxes/county-ca.ts";

export interface TestPki {
  ca: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  /** A CA that signed nothing here. */
  otherCa: Buffer;
  /** Where the CA certificate and the client's certificate and key are (for file-path settings). */
  files: { ca: string; clientCert: string; clientKey: string };
}

/** The county's own CA code (`npm run county-ca`) makes them, so the tests run what a county runs. */
export async function makeTestPki(dir: string, clientCn = "s1"): Promise<TestPki> {
  await initCa(dir, "county");
  await issueServer(dir, "county", ["localhost", "127.0.0.1"]);
  const client = await issueBox(dir, "county", clientCn, join(dir, "client"));
  const other = join(dir, "other-ca");
  await initCa(other, "other");
  const paths = pkiPaths(dir);
  return {
    ca: await readFile(paths.caCert),
    serverCert: await readFile(paths.serverCert),
    serverKey: await readFile(paths.serverKey),
    clientCert: await readFile(client.cert),
    clientKey: await readFile(client.key),
    otherCa: await readFile(pkiPaths(other).caCert),
    files: { ca: paths.caCert, clientCert: client.cert, clientKey: client.key },
  };
}
