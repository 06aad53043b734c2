/**
 * Box signatures on `manifest` and `commit` (Ed25519, node:crypto).
 *
 * Broker credentials prove who opened a connection; a signature proves who wrote a message, end to
 * end, whichever broker (embedded, external, clustered) carried it. The county verifies a box's
 * manifest and commit with the public key it registered for that site (`add-box`).
 *
 * What is signed: the UTF-8 bytes of
 *
 *     "dxgate/v1 signed message\n" + topic + "\n" + canonicalJson(message without `signature`)
 *
 * The topic binds the message to its site and kind (a manifest signed by box A is worthless on box
 * B's topic). `canonicalJson` is RFC 8785 (JCS) for the values our messages hold (objects, arrays,
 * strings, integers, booleans): keys sorted by UTF-16 code units, no whitespace, ECMAScript string
 * and number serialisation, i.e. `JSON.stringify` with sorted keys. Any JCS library gives the same
 * bytes, so a third-party box can sign without our code.
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import type { MessageSignature } from "./messages.ts";

const SIGNING_CONTEXT = "dxgate/v1 signed message\n";

/** RFC 8785 canonical JSON of a value made of objects, arrays, strings, finite numbers, booleans, null. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new RangeError("non-finite number");
    if (value === undefined || typeof value === "function" || typeof value === "bigint") {
      throw new TypeError(`cannot canonicalise a ${typeof value}`);
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    // Default sort compares UTF-16 code units, which is what JCS prescribes.
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** The bytes a signature covers. */
export function signingInput(topic: string, message: object): Buffer {
  const { signature: _ignored, ...unsigned } = message as { signature?: unknown };
  return Buffer.from(`${SIGNING_CONTEXT}${topic}\n${canonicalJson(unsigned)}`, "utf8");
}

/** A copy of `message` with its `signature`. */
export function signMessage<T extends object>(topic: string, message: T, privateKey: KeyObject): T {
  const value = sign(null, signingInput(topic, message), privateKey).toString("base64");
  const signature: MessageSignature = { alg: "Ed25519", value };
  return { ...message, signature };
}

export type SignatureCheck = "valid" | "missing" | "invalid";

/** Check `message.signature` against the box's public key. Never throws for a bad signature. */
export function verifyMessage(topic: string, message: object, publicKey: KeyObject): SignatureCheck {
  const signature = (message as { signature?: MessageSignature }).signature;
  if (!signature) return "missing";
  if (signature.alg !== "Ed25519") return "invalid";
  const bytes = Buffer.from(signature.value, "base64");
  if (bytes.length !== 64) return "invalid";
  try {
    return verify(null, signingInput(topic, message), publicKey, bytes) ? "valid" : "invalid";
  } catch {
    return "invalid";
  }
}

/** An Ed25519 private key from PEM (PKCS#8); throws a RangeError naming the problem otherwise. */
export function loadSigningKey(pem: string | Buffer): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== "ed25519") throw new RangeError("the box signing key is not an Ed25519 key");
  return key;
}

/** An Ed25519 public key from PEM (SPKI). */
export function loadVerifyKey(pem: string | Buffer): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== "ed25519") throw new RangeError("the box verify key is not an Ed25519 key");
  return key;
}
