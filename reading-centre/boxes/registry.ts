/**
 * The county's registered boxes in `<dataDir>/boxes.json` (written durably, whole-file replace):
 * per site a scrypt hash of its broker password, the SPKI PEM of its Ed25519 signing key, the
 * fingerprint of the client certificate issued to it, and whether it is disabled. The county never
 * stores a box's password or private key.
 *
 * Two kinds of process use the file: the running service only reads it, and the admin's `add-box` /
 * `disable-box` commands (separate, short-lived processes) change it. The service therefore checks
 * the file for a change (a stat: inode, size, mtime) at most every RECHECK_MS, and again whenever it
 * is about to refuse (unknown site, wrong password, other certificate), so a box added or rotated a
 * moment ago is admitted without a restart. The file is re-read only when it changed: a flood of
 * bogus logins costs a stat each (next to the scrypt hash they cost anyway), never a re-read.
 */

import {
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { DurableJsonFile } from "../../common/durable-json-store.ts";
import type { Logger } from "../../common/logger.ts";
import { ID_PATTERN } from "../../uploader/protocol/index.ts";
import { dummyHash, hashPassword, type PasswordHash, verifyPassword } from "../auth/password.ts";
import { INTERNAL_CLIENT_PREFIX } from "../broker/acl.ts";
import { mosquittoPasswordHash } from "../broker/mosquitto-config.ts";
import type { BoxDirectory } from "../receiver/context.ts";
import { boxError } from "./errors.ts";

export interface BoxCertificate {
  /** Hex, as openssl prints it. */
  serial: string;
  /** SHA-256 of the DER certificate, colon-separated upper-case hex (node's X509Certificate form). */
  fingerprint256: string;
  notAfter: string;
}

export interface BoxRecord {
  siteId: string;
  createdAt: string;
  updatedAt: string;
  password: PasswordHash;
  /**
   * The same password in Mosquitto's `$7$` format, for a county behind an external Mosquitto
   * (`npm run mosquitto-config` copies it into the broker's password file). Its PBKDF2 is cheap, but
   * the password is 24 random bytes, so no dictionary reaches it.
   */
  mosquittoPassword?: string;
  /** SPKI PEM of the box's Ed25519 public key (verifies its manifests and commits). */
  verifyKey: string;
  certificate?: BoxCertificate;
  disabled?: boolean;
}

export interface BoxesFile {
  version: 1;
  boxes: Record<string, BoxRecord>;
}

/** What `add` hands back once: the secrets the box needs and the county does not keep. */
export interface NewBoxCredentials {
  siteId: string;
  created: boolean;
  password: string;
  /** PKCS#8 PEM of the box's Ed25519 private key. */
  signingKeyPem: string;
  verifyKey: KeyObject;
}

export const BOXES_FILE = "boxes.json";
const RECHECK_MS = 1000;

/** A site id a box may have: the protocol's ID_PATTERN, and not one of the reading centre's own names. */
export function checkSiteId(siteId: string): void {
  if (!ID_PATTERN.test(siteId)) {
    throw boxError(
      "BOX_INVALID",
      "site id must be 1-64 letters, digits, or _ . - (starting with a letter or digit)",
      {
        field: "siteId",
      },
    );
  }
  if (siteId.startsWith(INTERNAL_CLIENT_PREFIX)) {
    throw boxError("BOX_INVALID", `site ids starting with ${INTERNAL_CLIENT_PREFIX} are reserved`, {
      field: "siteId",
    });
  }
}

export class BoxRegistry implements BoxDirectory {
  readonly #path: string;
  readonly #file: DurableJsonFile<BoxesFile>;
  readonly #log: Logger | undefined;
  #data: BoxesFile = { version: 1, boxes: {} };
  #stamp = "";
  #checkedAt = 0;
  readonly #keys = new Map<string, { pem: string; key: KeyObject }>();

  private constructor(dataDir: string, log: Logger | undefined) {
    this.#path = join(dataDir, BOXES_FILE);
    this.#file = new DurableJsonFile<BoxesFile>(this.#path);
    this.#log = log;
  }

  static open(dataDir: string, log?: Logger): BoxRegistry {
    const registry = new BoxRegistry(dataDir, log);
    registry.#reload(true);
    return registry;
  }

  get path(): string {
    return this.#path;
  }

  /** The enabled box's verify key; undefined for an unknown or disabled one. */
  verifyKey(siteId: string): KeyObject | undefined {
    const record = this.#lookup(siteId);
    if (!record) return undefined;
    const cached = this.#keys.get(siteId);
    if (cached?.pem === record.verifyKey) return cached.key;
    try {
      const key = createPublicKey(record.verifyKey);
      this.#keys.set(siteId, { pem: record.verifyKey, key });
      return key;
    } catch (error) {
      this.#log?.warn(
        { siteId, code: "BOX_KEY_INVALID", reason: (error as Error).message },
        "box verify key unreadable",
      );
      return undefined;
    }
  }

  /** The enabled box's record (no secrets beyond the hash), or undefined. */
  get(siteId: string): Readonly<BoxRecord> | undefined {
    return this.#lookup(siteId);
  }

  list(): Readonly<BoxRecord>[] {
    this.#recheck(RECHECK_MS);
    return Object.values(this.#data.boxes);
  }

  /** True when `password` is the enabled box's current one (same cost for unknown sites). */
  async authenticate(siteId: string, password: string): Promise<boolean> {
    // A login is rare and a stat cheap: look at the file every time, so a password rotated or a box
    // disabled by add-box / disable-box a moment ago counts at once (the old password must not).
    this.#recheck(0);
    const record = this.#lookup(siteId);
    if (record) return verifyPassword(password, record.password);
    await verifyPassword(password, await dummyHash());
    return false;
  }

  /**
   * True when a client certificate (already verified against the county CA) may stand for the site:
   * the box is enabled, and if the registry recorded the certificate issued to it, it is that one
   * (a re-issued certificate retires the old one without a revocation list).
   */
  admitsCertificate(siteId: string, fingerprint256: string): boolean {
    const record = this.#lookup(siteId);
    if (!record) return false;
    if (!record.certificate) return true;
    const a = Buffer.from(record.certificate.fingerprint256.toUpperCase());
    const b = Buffer.from(fingerprint256.toUpperCase());
    if (a.length === b.length && timingSafeEqual(a, b)) return true;
    if (this.#recheck(0)) return this.admitsCertificate(siteId, fingerprint256);
    return false;
  }

  /**
   * Create the box, or rotate its credentials: a new random password and a new Ed25519 key pair
   * (the old ones stop working), and `certificate` as the only one its TLS login accepts (without
   * one, any county certificate for the site). Enables a disabled box. Returns the secrets once.
   */
  async add(siteId: string, certificate?: BoxCertificate): Promise<NewBoxCredentials> {
    checkSiteId(siteId);
    this.#reload(true);
    const password = randomBytes(24).toString("base64url");
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const verifyKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
    const signingKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const now = new Date().toISOString();
    const existing = this.#data.boxes[siteId];
    this.#data.boxes[siteId] = {
      siteId,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
      password: await hashPassword(password),
      mosquittoPassword: mosquittoPasswordHash(password),
      verifyKey: verifyKeyPem,
      ...(certificate ? { certificate } : {}),
    };
    await this.#write();
    return { siteId, created: existing === undefined, password, signingKeyPem, verifyKey: publicKey };
  }

  /** Record the client certificate issued to the box (the only one its TLS login accepts from now on). */
  async setCertificate(siteId: string, certificate: BoxCertificate): Promise<void> {
    this.#reload(true);
    const record = this.#data.boxes[siteId];
    if (!record) throw boxError("BOX_UNKNOWN", `no box ${siteId} in the registry`, { siteId });
    record.certificate = certificate;
    record.updatedAt = new Date().toISOString();
    await this.#write();
  }

  /** Refuse the box from now on (login, TLS and signatures); `add` enables it again with new credentials. */
  async disable(siteId: string): Promise<void> {
    this.#reload(true);
    const record = this.#data.boxes[siteId];
    if (!record) throw boxError("BOX_UNKNOWN", `no box ${siteId} in the registry`, { siteId });
    record.disabled = true;
    record.updatedAt = new Date().toISOString();
    await this.#write();
  }

  #lookup(siteId: string): BoxRecord | undefined {
    this.#recheck(RECHECK_MS);
    let record = enabled(this.#data.boxes, siteId);
    if (!record && this.#recheck(0)) record = enabled(this.#data.boxes, siteId);
    return record;
  }

  /** Re-read the file if it changed and the last check is older than `everyMs`; true when it re-read. */
  #recheck(everyMs: number): boolean {
    const now = Date.now();
    if (now - this.#checkedAt < everyMs) return false;
    this.#checkedAt = now;
    return this.#reload(false);
  }

  #reload(force: boolean): boolean {
    let stamp: string;
    try {
      const s = statSync(this.#path);
      stamp = `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      stamp = "absent";
    }
    if (!force && stamp === this.#stamp) return false;
    this.#stamp = stamp;
    if (stamp === "absent") {
      this.#data = { version: 1, boxes: {} };
      return true;
    }
    try {
      const parsed = JSON.parse(readFileSync(this.#path, "utf8")) as BoxesFile;
      if (parsed.version !== 1 || typeof parsed.boxes !== "object" || parsed.boxes === null) {
        throw new Error(`unsupported format (version ${String(parsed.version)})`);
      }
      this.#data = parsed;
    } catch (error) {
      // Keep what was loaded before: a bad edit must not lock every box out of a running county.
      if (force) throw boxError("BOXES_INVALID", `${this.#path}: ${(error as Error).message}`);
      this.#log?.error(
        { code: "BOXES_INVALID", reason: (error as Error).message },
        "box registry unreadable; keeping the last one",
      );
    }
    return true;
  }

  async #write(): Promise<void> {
    await this.#file.write(this.#data);
    this.#checkedAt = 0;
  }
}

function enabled(boxes: Record<string, BoxRecord>, siteId: string): BoxRecord | undefined {
  const record = Object.hasOwn(boxes, siteId) ? boxes[siteId] : undefined;
  return record && !record.disabled ? record : undefined;
}
