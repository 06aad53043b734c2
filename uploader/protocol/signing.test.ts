import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { test } from "node:test";
import { decodeJsonMessage, encodeJsonMessage } from "./codec.ts";
import type { CommitMessage } from "./messages.ts";
import { canonicalJson, loadSigningKey, signMessage, verifyMessage } from "./signing.ts";

const box = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");
const topic = "dxgate/v1/county/site-a/up/commit";
const commit: CommitMessage = {
  v: 1,
  type: "commit",
  sentAt: "2026-11-25T00:00:00.000Z",
  transferId: "t-1",
  studyInstanceUid: "1.2.3",
  instanceCount: 2,
};

test("canonicalJson sorts keys at every depth and matches JSON for scalars", () => {
  assert.equal(
    canonicalJson({ b: 1, a: [{ d: "x", c: true }], e: null }),
    '{"a":[{"c":true,"d":"x"}],"b":1,"e":null}',
  );
  assert.equal(canonicalJson("é\n\u2028"), JSON.stringify("é\n\u2028"));
  assert.throws(() => canonicalJson(Number.NaN), RangeError);
});

test("a signed message verifies after a JSON round trip with its keys in another order", () => {
  const signed = signMessage(topic, commit, box.privateKey);
  const decoded = decodeJsonMessage(encodeJsonMessage(signed), "commit");
  const reordered = Object.fromEntries(Object.entries(decoded).reverse()) as CommitMessage;
  assert.equal(verifyMessage(topic, reordered, box.publicKey), "valid");
});

test("a signature fails for another key, another topic, a changed field, or none at all", () => {
  const signed = signMessage(topic, commit, box.privateKey);
  assert.equal(verifyMessage(topic, signed, other.publicKey), "invalid");
  assert.equal(verifyMessage(topic.replace("site-a", "site-b"), signed, box.publicKey), "invalid");
  assert.equal(verifyMessage(topic, { ...signed, instanceCount: 3 }, box.publicKey), "invalid");
  assert.equal(verifyMessage(topic, commit, box.publicKey), "missing");
  const truncated = { ...signed, signature: { alg: "Ed25519" as const, value: "AAAA" } };
  assert.equal(verifyMessage(topic, truncated, box.publicKey), "invalid");
});

test("loadSigningKey refuses a key that is not Ed25519", () => {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
  assert.throws(() => loadSigningKey(rsa.privateKey.export({ type: "pkcs8", format: "pem" })), /Ed25519/);
  const pem = box.privateKey.export({ type: "pkcs8", format: "pem" });
  assert.equal(loadSigningKey(pem).asymmetricKeyType, "ed25519");
});
