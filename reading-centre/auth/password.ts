/**
 * Password hashing with scrypt (node:crypto): a random salt per password, the cost parameters stored
 * beside the hash so they can be raised later, and a constant-time comparison.
 */
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";

export interface PasswordHash {
  algorithm: "scrypt";
  /** Hex. */
  salt: string;
  /** Hex. */
  hash: string;
  params: { N: number; r: number; p: number; keyLength: number };
}

const DEFAULT_PARAMS = { N: 16384, r: 8, p: 1, keyLength: 64 } as const;

function derive(password: string, salt: Buffer, params: PasswordHash["params"]): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFC"), salt, params.keyLength, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = randomBytes(16);
  const params = { ...DEFAULT_PARAMS };
  const hash = await derive(password, salt, params);
  return { algorithm: "scrypt", salt: salt.toString("hex"), hash: hash.toString("hex"), params };
}

export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const expected = Buffer.from(stored.hash, "hex");
  const actual = await derive(password, Buffer.from(stored.salt, "hex"), stored.params);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

let dummy: Promise<PasswordHash> | undefined;

/** A hash of nothing anyone knows, checked when a username is unknown so timing cannot tell. */
export function dummyHash(): Promise<PasswordHash> {
  dummy ??= hashPassword(randomBytes(16).toString("hex"));
  return dummy;
}
