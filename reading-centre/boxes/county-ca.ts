/**
 * The county's own certificate authority, driven through the openssl CLI (present on every Debian
 * machine; no crypto library to pin): EC P-256 keys, a 10-year CA, 2-year leaf certificates.
 *
 * Files in the PKI directory (default `<dataDir>/pki`): `ca.key` (0600, the county's secret: whoever
 * has it can mint boxes), `ca.crt` (handed to every box so it can verify the broker),
 * `server.key`/`server.crt` (the broker's TLS identity, a SAN per host name or address), and, when
 * issued here rather than by add-box, `boxes/SITE/box.key`/`box.crt`.
 *
 * A box certificate has CN = site id and O = county id, and extendedKeyUsage clientAuth only; the
 * broker admits it as that site (see broker/acl.ts).
 */
import { execFile } from "node:child_process";
import { randomBytes, X509Certificate } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { boxError } from "./errors.ts";
import type { BoxCertificate } from "./registry.ts";

const run = promisify(execFile);

const CA_DAYS = 3650;
const LEAF_DAYS = 730;
const HOST_PATTERN =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export interface PkiPaths {
  dir: string;
  caKey: string;
  caCert: string;
  serverKey: string;
  serverCert: string;
}

export function pkiPaths(dir: string): PkiPaths {
  return {
    dir,
    caKey: join(dir, "ca.key"),
    caCert: join(dir, "ca.crt"),
    serverKey: join(dir, "server.key"),
    serverCert: join(dir, "server.crt"),
  };
}

export async function caExists(dir: string): Promise<boolean> {
  const paths = pkiPaths(dir);
  return (await exists(paths.caKey)) && (await exists(paths.caCert));
}

/** Create the county CA unless it exists (an existing CA is never replaced: every box trusts it). */
export async function initCa(dir: string, countyId: string): Promise<{ created: boolean; paths: PkiPaths }> {
  const paths = pkiPaths(dir);
  if (await caExists(dir)) return { created: false, paths };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await openssl([
    "req",
    "-x509",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    paths.caKey,
    "-out",
    paths.caCert,
    "-days",
    String(CA_DAYS),
    "-sha256",
    "-subj",
    `/O=${countyId}/CN=dxgate county CA ${countyId}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE,pathlen:0",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await chmod(paths.caKey, 0o600);
  return { created: true, paths };
}

/** The broker's server certificate, one SAN per host (DNS name or IP address); replaces an older one. */
export async function issueServer(
  dir: string,
  countyId: string,
  hosts: readonly string[],
): Promise<PkiPaths> {
  if (hosts.length === 0) throw boxError("BOX_INVALID", "name at least one host for the server certificate");
  const san = hosts.map((host) => {
    if (isIP(host)) return `IP:${host}`;
    if (HOST_PATTERN.test(host)) return `DNS:${host}`;
    throw boxError("BOX_INVALID", `not a host name or IP address: ${JSON.stringify(host)}`, {
      field: "host",
    });
  });
  const paths = pkiPaths(dir);
  await requireCa(paths);
  await issueLeaf(paths, {
    keyOut: paths.serverKey,
    certOut: paths.serverCert,
    subject: `/O=${countyId}/CN=${hosts[0]}`,
    extensions: [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      `subjectAltName=${san.join(",")}`,
    ],
  });
  return paths;
}

/** A box's client certificate (CN = site id, O = county id) and its key, written into `outDir`. */
export async function issueBox(
  dir: string,
  countyId: string,
  siteId: string,
  outDir: string,
): Promise<{ cert: string; key: string; certificate: BoxCertificate }> {
  const paths = pkiPaths(dir);
  await requireCa(paths);
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const key = join(outDir, "box.key");
  const cert = join(outDir, "box.crt");
  await issueLeaf(paths, {
    keyOut: key,
    certOut: cert,
    subject: `/O=${countyId}/CN=${siteId}`,
    extensions: [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=clientAuth",
    ],
  });
  await chmod(cert, 0o600);
  const x509 = new X509Certificate(await readFile(cert));
  return {
    cert,
    key,
    certificate: { serial: x509.serialNumber, fingerprint256: x509.fingerprint256, notAfter: x509.validTo },
  };
}

async function issueLeaf(
  paths: PkiPaths,
  leaf: { keyOut: string; certOut: string; subject: string; extensions: string[] },
): Promise<void> {
  const work = await mkdtemp(join(paths.dir, ".issue-"));
  try {
    const csr = join(work, "leaf.csr");
    const ext = join(work, "leaf.ext");
    const key = join(work, "leaf.key");
    await openssl([
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      key,
      "-out",
      csr,
      "-subj",
      leaf.subject,
    ]);
    await writeFile(ext, `${leaf.extensions.join("\n")}\n`);
    await openssl([
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      paths.caCert,
      "-CAkey",
      paths.caKey,
      // A random serial: no serial file to keep in step between the CLI and add-box.
      "-set_serial",
      `0x${randomBytes(16).toString("hex").replace(/^./, "1")}`,
      "-days",
      String(LEAF_DAYS),
      "-sha256",
      "-extfile",
      ext,
      "-out",
      leaf.certOut,
    ]);
    await writeFile(leaf.keyOut, await readFile(key), { mode: 0o600 });
    await chmod(leaf.keyOut, 0o600);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function requireCa(paths: PkiPaths): Promise<void> {
  if (!(await caExists(paths.dir))) {
    throw boxError("PKI_FAILED", `no county CA in ${paths.dir}: run \`npm run county-ca -- init\` first`, {
      dir: paths.dir,
    });
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run("openssl", args, { timeout: 30_000 });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    const reason =
      e.code === "ENOENT" ? "openssl is not installed" : (e.stderr ?? e.message).trim().split("\n")[0];
    throw boxError("PKI_FAILED", `openssl ${args[0]} failed: ${reason}`, { command: args[0] });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
