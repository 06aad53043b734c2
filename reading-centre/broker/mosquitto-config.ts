/**
 * An external Mosquitto 2 for the county, configured from the box registry (`<dataDir>/boxes.json`):
 * a password file in the format `mosquitto_passwd` writes, and an ACL file with the same rules as the
 * embedded broker's (reading-centre/broker/acl.ts):
 * - a box (username = its site id, or the CN of its certificate on a listener with
 *   `use_identity_as_username`) may publish only under `dxgate/v1/{county}/{its site}/up/`, and read
 *   only `dxgate/v1/{county}/{its site}/down/`;
 * - the reading centre's receiver user reads every box's `up` topics and writes their `down` topics;
 * - nobody else gets anything (`allow_anonymous false`, and an ACL file grants only what it lists).
 *
 * Mosquitto cannot check the registry's scrypt hashes, and a hash cannot be converted to another
 * scheme without the password, so a box is written to the password file only when its registry entry
 * carries a Mosquitto-format hash as well (PBKDF2-SHA512, `$7$`: see `mosquittoPasswordHash`). A box
 * without one can still connect with its certificate; the generator reports it.
 */
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ID_PATTERN, TOPIC_ROOT } from "../../uploader/protocol/index.ts";
import { MAX_PUBLISH_BYTES } from "./acl.ts";

/** mosquitto_passwd's defaults (mosquitto 2.0): 12-byte salt, 101 iterations, 64-byte SHA-512 key. */
const SALT_BYTES = 12;
const DEFAULT_ITERATIONS = 101;
const KEY_BYTES = 64;
const PBKDF2_LINE = /^\$7\$(\d{1,9})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

/**
 * The default name of the reading centre's own Mosquitto user; site ids may not start with
 * `dxgate-rc-` (reading-centre/boxes), so it is never a box's.
 */
export const RECEIVER_USERNAME = "dxgate-rc-receiver";

/**
 * A password as `mosquitto_passwd` stores it: `$7$ITERATIONS$SALT$HASH` (PBKDF2-HMAC-SHA512, base64).
 * Synchronous: at 101 iterations it costs well under a millisecond.
 */
export function mosquittoPasswordHash(
  password: string,
  options: { iterations?: number; salt?: Buffer } = {},
): string {
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  const salt = options.salt ?? randomBytes(SALT_BYTES);
  const key = pbkdf2Sync(password, salt, iterations, KEY_BYTES, "sha512");
  return `$7$${iterations}$${salt.toString("base64")}$${key.toString("base64")}`;
}

/** Whether `hash` (a `$7$` line) is `password`'s; for tests and for checking a registry entry. */
export function verifyMosquittoPassword(password: string, hash: string): boolean {
  const match = PBKDF2_LINE.exec(hash);
  if (!match) return false;
  const expected = Buffer.from(match[3]!, "base64");
  const key = pbkdf2Sync(
    password,
    Buffer.from(match[2]!, "base64"),
    Number(match[1]),
    expected.length,
    "sha512",
  );
  return key.equals(expected);
}

/** What the generator reads of a registry entry (the registry has more: keys, timestamps). */
export interface RegistryBox {
  siteId: string;
  disabled?: boolean;
  certificate?: { serial?: string; fingerprint256?: string; notAfter?: string };
  /** The Mosquitto-format hash of the box's broker password (`$7$…`), written by add-box. */
  mosquittoPassword?: string;
  /** The box's broker password hash; used when it is already PBKDF2-SHA512 (see `boxHash`). */
  password?: unknown;
}

export interface BoxRegistryFile {
  version: number;
  boxes: Record<string, RegistryBox>;
}

/** `<dataDir>/boxes.json`; an absent file is an empty registry. */
export async function readBoxRegistry(dataDir: string): Promise<BoxRegistryFile> {
  const path = join(dataDir, "boxes.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, boxes: {} };
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<BoxRegistryFile>;
  if (parsed.version !== 1 || typeof parsed.boxes !== "object" || parsed.boxes === null) {
    throw new Error(`${path}: not a version 1 box registry (fields version, boxes)`);
  }
  return parsed as BoxRegistryFile;
}

/**
 * The entry's hash in Mosquitto's format: its `mosquittoPassword` field, or its `password` when that
 * is a `$7$` string or a PBKDF2-SHA512 object ({algorithm: "pbkdf2-sha512", salt, hash (hex),
 * iterations}); undefined when the registry holds only a scheme Mosquitto cannot check.
 */
export function boxHash(box: RegistryBox): string | undefined {
  if (typeof box.mosquittoPassword === "string" && PBKDF2_LINE.test(box.mosquittoPassword)) {
    return box.mosquittoPassword;
  }
  const password = box.password;
  if (typeof password === "string" && PBKDF2_LINE.test(password)) return password;
  if (typeof password === "object" && password !== null) {
    const p = password as { algorithm?: unknown; salt?: unknown; hash?: unknown; iterations?: unknown };
    if (
      p.algorithm === "pbkdf2-sha512" &&
      typeof p.salt === "string" &&
      typeof p.hash === "string" &&
      Number.isInteger(p.iterations)
    ) {
      const salt = Buffer.from(p.salt, "hex").toString("base64");
      const hash = Buffer.from(p.hash, "hex").toString("base64");
      return `$7$${p.iterations as number}$${salt}$${hash}`;
    }
  }
  return undefined;
}

export interface MosquittoConfigInput {
  countyId: string;
  registry: BoxRegistryFile;
  /** The reading centre's user; its hash is written only when given. */
  receiver: { username?: string; passwordHash?: string };
}

export interface MosquittoFiles {
  /** `password_file` contents. */
  passwords: string;
  /** `acl_file` contents. */
  acl: string;
  /** Boxes in the password file. */
  boxes: string[];
  /** Boxes that can log in only with a certificate: the registry holds no Mosquitto-format hash. */
  certificateOnly: string[];
  /** Disabled boxes: no password line, and every topic denied (a certificate still verifies). */
  disabled: string[];
}

/** The password and ACL files for a county's boxes and its receiver. */
export function generateMosquittoFiles(input: MosquittoConfigInput): MosquittoFiles {
  const { countyId } = input;
  if (!ID_PATTERN.test(countyId)) throw new RangeError(`invalid countyId: ${JSON.stringify(countyId)}`);
  const receiverUser = input.receiver.username ?? RECEIVER_USERNAME;
  const county = `${TOPIC_ROOT}/v1/${countyId}`;
  const passwords: string[] = [];
  const boxes: string[] = [];
  const certificateOnly: string[] = [];
  const disabled: string[] = [];
  const sites = Object.keys(input.registry.boxes).sort();
  for (const key of sites) {
    const box = input.registry.boxes[key]!;
    const siteId = box.siteId ?? key;
    // The site id becomes a username and an ACL pattern substitution: no wildcards, no separators.
    if (!ID_PATTERN.test(siteId) || siteId !== key) {
      throw new RangeError(`boxes.json: invalid site id ${JSON.stringify(key)}`);
    }
    if (siteId === receiverUser) {
      throw new RangeError(`boxes.json: site id ${siteId} is the receiver's username; choose another`);
    }
    if (box.disabled) {
      disabled.push(siteId);
      continue;
    }
    const hash = boxHash(box);
    if (hash === undefined) {
      certificateOnly.push(siteId);
      continue;
    }
    passwords.push(`${siteId}:${hash}`);
    boxes.push(siteId);
  }
  if (input.receiver.passwordHash !== undefined) {
    if (!PBKDF2_LINE.test(input.receiver.passwordHash))
      throw new RangeError("receiver hash must be a $7$ hash");
    passwords.push(`${receiverUser}:${input.receiver.passwordHash}`);
  }

  const acl = [
    "# dxgate: generated from the box registry by `npm run mosquitto-config`; do not edit.",
    "# A file ACL grants only what it lists: anonymous clients and unlisted topics get nothing.",
    "",
    "# The reading centre: every box's uploads in, acknowledgements and reports out.",
    `user ${receiverUser}`,
    `topic read ${county}/+/up/#`,
    `topic write ${county}/+/down/#`,
    "",
  ];
  if (disabled.length > 0) {
    acl.push("# Disabled boxes: a client certificate of theirs still verifies, so deny every topic.");
    for (const siteId of disabled) acl.push(`user ${siteId}`, `topic deny ${TOPIC_ROOT}/#`, "");
  }
  acl.push(
    "# Each box (username = site id, or its certificate's CN) only under its own site.",
    `pattern write ${county}/%u/up/#`,
    `pattern read ${county}/%u/down/#`,
    "",
  );
  return {
    passwords: passwords.length > 0 ? `${passwords.join("\n")}\n` : "",
    acl: acl.join("\n"),
    boxes,
    certificateOnly,
    disabled,
  };
}

export interface MosquittoListener {
  port: number;
  host: string;
  /** TLS: the server's certificate and key, and the CA that issues box certificates. */
  tls?: { cert: string; key: string; ca: string; requireCertificate?: boolean };
}

/**
 * A `mosquitto.conf` for the dxgate files: no anonymous access, the packet size limit of the embedded
 * broker, and each listener (a TLS listener with `requireCertificate` takes boxes by certificate:
 * the CN is the username the ACL patterns see).
 */
export function mosquittoConf(options: {
  passwordFile: string;
  aclFile: string;
  listeners: MosquittoListener[];
  persistence?: { dir: string };
}): string {
  const lines = [
    "# dxgate county broker",
    "per_listener_settings false",
    "allow_anonymous false",
    `password_file ${options.passwordFile}`,
    `acl_file ${options.aclFile}`,
    // The largest chunk or preview and its framing; larger packets disconnect their sender.
    `max_packet_size ${MAX_PUBLISH_BYTES}`,
    options.persistence ? "persistence true" : "persistence false",
    ...(options.persistence ? [`persistence_location ${options.persistence.dir}/`] : []),
    // A box offline for days keeps its acks and reports waiting in its session.
    "persistent_client_expiration 30d",
    "max_queued_messages 10000",
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "log_type notice",
    "",
  ];
  for (const listener of options.listeners) {
    lines.push(`listener ${listener.port} ${listener.host}`);
    if (listener.tls) {
      lines.push(
        `certfile ${listener.tls.cert}`,
        `keyfile ${listener.tls.key}`,
        `cafile ${listener.tls.ca}`,
        "tls_version tlsv1.2",
      );
      if (listener.tls.requireCertificate) {
        lines.push("require_certificate true", "use_identity_as_username true");
      }
    }
    lines.push("");
  }
  return lines.join("\n");
}
