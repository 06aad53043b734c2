import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import {
  decodePreview,
  encodePreview,
  MAX_PREVIEW_BYTES,
  MAX_PREVIEW_HEADER_BYTES,
  PREVIEW_ERRORS,
  type PreviewHeader,
  ProtocolError,
} from "./index.ts";

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.alloc(300, 7),
]);
const SVG = Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10"></svg>');
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(100, 1)]);

function headerFor(data: Buffer, overrides: Partial<PreviewHeader> = {}): PreviewHeader {
  return {
    studyInstanceUid: "1.2.826.0.1.3680043.10.99.1",
    previewId: "sheet-1",
    mediaType: "image/png",
    sha256: createHash("sha256").update(data).digest("hex"),
    size: data.length,
    ...overrides,
  };
}

/** A DXP1 payload built by hand, so the decoder can be fed what no encoder would produce. */
function rawPreview(header: unknown, data: Buffer, headerLength?: number): Buffer {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.write("DXP1", 0, "ascii");
  prefix.writeUInt32BE(headerLength ?? json.length, 4);
  return Buffer.concat([prefix, json, data]);
}

function rejects(fn: () => unknown, code: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `a ProtocolError, not ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

test("a preview round-trips with every field and each media type", () => {
  const full = headerFor(PNG, { width: 1123, height: 794, description: "12-lead sheet" });
  const decoded = decodePreview(encodePreview(full, PNG));
  assert.deepEqual({ ...decoded, data: undefined }, { ...full, data: undefined });
  assert.ok(decoded.data.equals(PNG));

  for (const [mediaType, data] of [
    ["image/svg+xml", SVG],
    ["image/jpeg", JPEG],
  ] as const) {
    const header = headerFor(data, { mediaType, previewId: "1.2.3.4" });
    const back = decodePreview(encodePreview(header, data));
    assert.equal(back.mediaType, mediaType);
    assert.equal(back.previewId, "1.2.3.4");
    assert.equal("width" in back, false, "absent optionals stay absent");
    assert.ok(back.data.equals(data));
  }
});

test("decoding works on a view into a larger buffer (as MQTT clients hand payloads over)", () => {
  const payload = encodePreview(headerFor(PNG), PNG);
  const big = Buffer.concat([Buffer.alloc(13, 9), payload, Buffer.alloc(5, 9)]);
  const view = big.subarray(13, 13 + payload.length);
  assert.ok(decodePreview(view).data.equals(PNG));
});

test("header fields this version does not know are ignored (v1 compatibility rule)", () => {
  const decoded = decodePreview(rawPreview({ ...headerFor(PNG), page: 2, renderer: "x" }, PNG));
  assert.equal(decoded.previewId, "sheet-1");
  assert.equal("page" in decoded, false);
});

test("a wrong magic, a truncated prefix or a header running past the end is PROTO_BAD_PREVIEW", () => {
  const good = encodePreview(headerFor(PNG), PNG);
  rejects(() => decodePreview(Buffer.concat([Buffer.from("DXC1"), good.subarray(4)])), PREVIEW_ERRORS.bad);
  rejects(() => decodePreview(Buffer.from("DXP1")), PREVIEW_ERRORS.bad);
  rejects(() => decodePreview(Buffer.alloc(0)), PREVIEW_ERRORS.bad);
  rejects(() => decodePreview(rawPreview(headerFor(PNG), Buffer.alloc(0), 5000)), PREVIEW_ERRORS.bad);
  rejects(() => decodePreview(rawPreview("", PNG)), PREVIEW_ERRORS.bad);
});

test("a truncated image is PROTO_PREVIEW_MISMATCH (its size no longer matches)", () => {
  const good = encodePreview(headerFor(PNG), PNG);
  rejects(() => decodePreview(good.subarray(0, good.length - 1)), PREVIEW_ERRORS.mismatch);
  // Cut inside the header: its JSON no longer parses.
  const headerEnd = 8 + good.readUInt32BE(4);
  rejects(() => decodePreview(good.subarray(0, headerEnd - 3)), PREVIEW_ERRORS.bad);
});

test("a header that is not JSON or fails the schema is PROTO_BAD_PREVIEW", () => {
  rejects(() => decodePreview(rawPreview("{not json", PNG)), PREVIEW_ERRORS.bad);
  rejects(() => decodePreview(rawPreview("[]", PNG)), PREVIEW_ERRORS.bad);
  rejects(() => decodePreview(rawPreview("null", PNG)), PREVIEW_ERRORS.bad);
  const base = headerFor(PNG);
  const bad: Array<Record<string, unknown>> = [
    { ...base, studyInstanceUid: "1.2.x" },
    { ...base, studyInstanceUid: `${"1.".repeat(40)}1` },
    { ...base, previewId: "../etc" },
    { ...base, previewId: ".hidden" },
    { ...base, previewId: "" },
    { ...base, previewId: "a/b" },
    { ...base, previewId: "x".repeat(65) },
    { ...base, mediaType: "text/html" },
    { ...base, sha256: base.sha256.toUpperCase() },
    { ...base, size: 0 },
    { ...base, size: 1.5 },
    { ...base, size: "300" },
    { ...base, width: 0 },
    { ...base, height: 70000 },
    { ...base, description: "d".repeat(1025) },
  ];
  const { sha256: _omitted, ...withoutSha } = base;
  bad.push(withoutSha);
  for (const header of bad) {
    rejects(() => decodePreview(rawPreview(header, PNG)), PREVIEW_ERRORS.bad);
  }
});

test("an image over MAX_PREVIEW_BYTES or a header over its limit is PROTO_PREVIEW_TOO_LARGE", () => {
  const big = Buffer.concat([PNG, Buffer.alloc(MAX_PREVIEW_BYTES + 1 - PNG.length)]);
  rejects(() => encodePreview(headerFor(big), big), PREVIEW_ERRORS.tooLarge);
  rejects(() => decodePreview(rawPreview(headerFor(big), big)), PREVIEW_ERRORS.tooLarge);
  // The header claims a legal size but more bytes follow than it allows.
  rejects(() => decodePreview(rawPreview(headerFor(PNG), big)), PREVIEW_ERRORS.tooLarge);
  const padded = { ...headerFor(PNG), note: "n".repeat(MAX_PREVIEW_HEADER_BYTES) };
  rejects(() => decodePreview(rawPreview(padded, PNG)), PREVIEW_ERRORS.tooLarge);
  // The longest legal header (1024 characters, each escaped to six bytes) stays within the limit.
  const longest = headerFor(PNG, { description: "\u0001".repeat(1024), width: 65535, height: 65535 });
  assert.equal(decodePreview(encodePreview(longest, PNG)).description, longest.description);
  // Exactly at the limit is fine.
  const max = Buffer.concat([PNG, Buffer.alloc(MAX_PREVIEW_BYTES - PNG.length)]);
  assert.equal(decodePreview(encodePreview(headerFor(max), max)).size, MAX_PREVIEW_BYTES);
});

test("an image whose SHA-256 or size is not the header's is PROTO_PREVIEW_MISMATCH, both ways", () => {
  const forged = Buffer.from(PNG);
  forged[100] = forged[100]! ^ 0xff;
  rejects(() => decodePreview(rawPreview(headerFor(PNG), forged)), PREVIEW_ERRORS.mismatch);
  rejects(() => encodePreview(headerFor(PNG), forged), PREVIEW_ERRORS.mismatch);
  rejects(
    () => decodePreview(rawPreview(headerFor(PNG, { size: PNG.length + 1 }), PNG)),
    PREVIEW_ERRORS.mismatch,
  );
  rejects(() => encodePreview(headerFor(PNG, { size: PNG.length - 1 }), PNG), PREVIEW_ERRORS.mismatch);
});

test("bytes that are not of the declared media type are refused (the browser is told that type)", () => {
  const html = Buffer.from("<html><script>alert(1)</script></html>");
  for (const [mediaType, data] of [
    ["image/png", JPEG],
    ["image/jpeg", PNG],
    ["image/svg+xml", PNG],
    ["image/svg+xml", html],
    ["image/svg+xml", Buffer.from([0x3c, 0x73, 0x76, 0x67, 0x20, 0xff, 0xfe])],
  ] as const) {
    rejects(() => encodePreview(headerFor(data, { mediaType }), data), PREVIEW_ERRORS.bad);
    rejects(() => decodePreview(rawPreview(headerFor(data, { mediaType }), data)), PREVIEW_ERRORS.bad);
  }
});
