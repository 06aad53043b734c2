/**
 * `add-box`: create or rotate one box's credentials and write everything the box needs into one
 * directory (mode 0700, files 0600) for the admin to copy onto it:
 * - `box.env`: the gateway's environment (site, county, broker URL with `site:password@`, TLS files,
 *   signing key), absolute paths to the files beside it;
 * - `signing-key.pem`: the box's Ed25519 private key (signs manifests and commits);
 * - with a county CA (`<dataDir>/pki/ca.key`): `ca.crt` (verifies the broker), `box.crt`/`box.key`
 *   (the box's client certificate, CN = site id).
 * The registry keeps only the password hash, the public key and the certificate fingerprint.
 */
import { chmod, copyFile, mkdir, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import type { ReadingCentreConfig } from "../config.ts";
import { caExists, issueBox, pkiPaths } from "./county-ca.ts";
import { boxError } from "./errors.ts";
import { type BoxCertificate, BoxRegistry, checkSiteId } from "./registry.ts";

export interface ProvisionOptions {
  /** Where to write (default `<dataDir>/box-credentials/SITE`). */
  outDir?: string | undefined;
  /** The broker URL the box uses, without credentials (default: `mqtt.publicUrl` or derived). */
  brokerUrl?: string | undefined;
}

/** What add-box prints: where things are, never the password. */
export interface ProvisionResult {
  siteId: string;
  created: boolean;
  dir: string;
  env: string;
  signingKey: string;
  /** The broker URL written into box.env, with the password replaced by `***`. */
  brokerUrl: string;
  ca?: string;
  cert?: string;
  key?: string;
  clientId: string;
}

export function pkiDirOf(config: Readonly<ReadingCentreConfig>): string {
  return join(config.dataDir, "pki");
}

/** The URL boxes are told to use when the admin does not say: the TLS listener if any, else the plain one. */
export function defaultPublicUrl(config: Readonly<ReadingCentreConfig>): string {
  if (config.mqtt.publicUrl) return config.mqtt.publicUrl;
  if (config.mqtt.brokerUrl) return config.mqtt.brokerUrl;
  const tls = config.mqtt.tls;
  if (tls) return `mqtts://${formatHost(publicHost(tls.host))}:${tls.port}`;
  return `mqtt://${formatHost(publicHost(config.mqtt.host))}:${config.mqtt.port}`;
}

export async function provisionBox(
  config: Readonly<ReadingCentreConfig>,
  siteId: string,
  options: ProvisionOptions = {},
): Promise<ProvisionResult> {
  checkSiteId(siteId);
  const base = options.brokerUrl ?? defaultPublicUrl(config);
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw boxError("BOX_INVALID", `not a URL: ${JSON.stringify(base)}`, { field: "brokerUrl" });
  }
  if (!/^(mqtts?|tcp|tls|wss?):$/.test(url.protocol)) {
    throw boxError("BOX_INVALID", "the broker URL must be mqtt:// or mqtts://", { field: "brokerUrl" });
  }
  const dir = resolve(options.outDir ?? join(config.dataDir, "box-credentials", siteId));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);

  // The certificate first: if openssl fails, the box's current credentials are left as they were.
  const pki = pkiDirOf(config);
  let tls: { ca: string; cert: string; key: string } | undefined;
  let certificate: BoxCertificate | undefined;
  if (await caExists(pki)) {
    const issued = await issueBox(pki, config.countyId, siteId, dir);
    const ca = join(dir, "ca.crt");
    await copyFile(pkiPaths(pki).caCert, ca);
    await chmod(ca, 0o600);
    certificate = issued.certificate;
    tls = { ca, cert: issued.cert, key: issued.key };
  }

  const box = await BoxRegistry.open(config.dataDir).add(siteId, certificate);
  const signingKey = join(dir, "signing-key.pem");
  await writeSecret(signingKey, box.signingKeyPem);

  url.username = siteId;
  url.password = box.password;
  const env = join(dir, "box.env");
  const lines = [
    `# dxgate box credentials for site ${siteId} of county ${config.countyId} (add-box, ${new Date().toISOString()}).`,
    "# Secret: keep mode 0600. Load into the gateway's environment (systemd EnvironmentFile=).",
    `DXGATE_SITE_ID=${siteId}`,
    `DXGATE_COUNTY_ID=${config.countyId}`,
    `DXGATE_BROKER_URL=${url.href}`,
    ...(tls
      ? [`DXGATE_BROKER_CA=${tls.ca}`, `DXGATE_BROKER_CERT=${tls.cert}`, `DXGATE_BROKER_KEY=${tls.key}`]
      : []),
    `DXGATE_BOX_SIGNING_KEY=${signingKey}`,
  ];
  await writeSecret(env, `${lines.join("\n")}\n`);

  url.password = "***";
  return {
    siteId,
    created: box.created,
    dir,
    env,
    signingKey,
    brokerUrl: url.href,
    ...(tls ?? {}),
    clientId: `dxgate-box-${config.countyId}-${siteId}`,
  };
}

/** Parse a box.env (KEY=VALUE lines, # comments) into an environment. */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#")) continue;
    const eq = trimmed.indexOf("=");
    if (eq > 0) env[trimmed.slice(0, eq)] = trimmed.slice(eq + 1);
  }
  return env;
}

async function writeSecret(path: string, text: string): Promise<void> {
  // An existing file keeps its mode through writeFile: tighten it before the new secret goes in.
  await chmod(path, 0o600).catch(() => undefined);
  await writeFile(path, text, { mode: 0o600 });
}

/** A wildcard listen address is not something a box can connect to: the machine's name is the best guess. */
function publicHost(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "[::]") return hostname();
  return host;
}

function formatHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
