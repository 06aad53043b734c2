/**
 * Encoding and strict decoding of protocol messages. A receiver never acts on a payload that has not
 * passed `decodeJsonMessage`, `decodeChunk` or `decodePreview`: forged, truncated or oversized
 * messages become a `ProtocolError` with a code, never an exception from deep inside a handler.
 */
import { createHash } from "node:crypto";
import { Ajv, type ValidateFunction } from "ajv";
import {
  type JsonMessage,
  MAX_CHUNK_BYTES,
  MAX_JSON_MESSAGE_BYTES,
  MAX_PREVIEW_BYTES,
  MAX_PREVIEW_HEADER_BYTES,
  type MessageType,
  PREVIEW_HEADER_SCHEMA,
  type PreviewHeader,
  type PreviewMediaType,
  SCHEMAS,
} from "./messages.ts";

export class ProtocolError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
  }
}

const ajv = new Ajv({ allErrors: false, strict: true });
const validators = new Map<MessageType, ValidateFunction>(
  (Object.keys(SCHEMAS) as MessageType[]).map((type) => [type, ajv.compile(SCHEMAS[type])]),
);

export function encodeJsonMessage(message: JsonMessage): Buffer {
  return Buffer.from(JSON.stringify(message), "utf8");
}

/** Decode and validate a JSON message that must be of `expected` type. */
export function decodeJsonMessage<T extends MessageType>(
  payload: Uint8Array,
  expected: T,
): Extract<JsonMessage, { type: T }> {
  if (payload.length > MAX_JSON_MESSAGE_BYTES) {
    throw new ProtocolError(
      "PROTO_TOO_LARGE",
      `${expected} message of ${payload.length} bytes exceeds the limit`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload).toString("utf8"));
  } catch {
    throw new ProtocolError("PROTO_BAD_JSON", `${expected} message is not valid JSON`);
  }
  const validate = validators.get(expected)!;
  if (!validate(value)) {
    const first = validate.errors?.[0];
    const where = first ? `${first.instancePath || "/"} ${first.message ?? ""}` : "invalid";
    throw new ProtocolError("PROTO_INVALID", `${expected} message: ${where.trim()}`);
  }
  return value as Extract<JsonMessage, { type: T }>;
}

/** Which instance and where in it a chunk's data belongs. */
export interface ChunkHeader {
  transferId: string;
  sopInstanceUid: string;
  /** Byte offset of this chunk's data within the instance's Part 10 file. */
  offset: number;
  /**
   * Lower-case hex SHA-256 of this chunk's data (optional within v1; dxgate boxes always send it).
   * `decodeChunk` verifies it when present, so a corrupted chunk is refused alone and the ranges a
   * county holds are known good, which is what lets a resumed transfer skip them.
   */
  sha256?: string;
}

export interface Chunk extends ChunkHeader {
  data: Buffer;
}

/** "DXC1": dxgate chunk, layout version 1. */
const CHUNK_MAGIC = Buffer.from("DXC1", "ascii");
const PREFIX_BYTES = 8;
const MAX_CHUNK_HEADER_BYTES = 1024;

/**
 * Binary chunk layout: 4 bytes magic "DXC1", uint32 big-endian header length H, H bytes of UTF-8
 * JSON `ChunkHeader`, then the data. Binary, so data costs no base64 overhead.
 */
export function encodeChunk(header: ChunkHeader, data: Uint8Array): Buffer {
  const json = Buffer.from(
    JSON.stringify({
      transferId: header.transferId,
      sopInstanceUid: header.sopInstanceUid,
      offset: header.offset,
      sha256: header.sha256 ?? createHash("sha256").update(data).digest("hex"),
    }),
  );
  const prefix = Buffer.alloc(PREFIX_BYTES);
  CHUNK_MAGIC.copy(prefix, 0);
  prefix.writeUInt32BE(json.length, 4);
  return Buffer.concat([prefix, json, data]);
}

export function decodeChunk(payload: Uint8Array): Chunk {
  const buffer = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (buffer.length < PREFIX_BYTES || !buffer.subarray(0, 4).equals(CHUNK_MAGIC)) {
    throw new ProtocolError("PROTO_BAD_CHUNK", "chunk does not start with the DXC1 prefix");
  }
  const headerLength = buffer.readUInt32BE(4);
  if (headerLength > MAX_CHUNK_HEADER_BYTES || PREFIX_BYTES + headerLength > buffer.length) {
    throw new ProtocolError("PROTO_BAD_CHUNK", "chunk header length is out of range");
  }
  let header: unknown;
  try {
    header = JSON.parse(buffer.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength).toString("utf8"));
  } catch {
    throw new ProtocolError("PROTO_BAD_CHUNK", "chunk header is not valid JSON");
  }
  const h = header as Partial<ChunkHeader> | null;
  if (
    !h ||
    typeof h.transferId !== "string" ||
    h.transferId.length === 0 ||
    h.transferId.length > 128 ||
    typeof h.sopInstanceUid !== "string" ||
    !/^[0-9]+(\.[0-9]+)*$/.test(h.sopInstanceUid) ||
    h.sopInstanceUid.length > 64 ||
    typeof h.offset !== "number" ||
    !Number.isSafeInteger(h.offset) ||
    h.offset < 0 ||
    (h.sha256 !== undefined && (typeof h.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(h.sha256)))
  ) {
    throw new ProtocolError("PROTO_BAD_CHUNK", "chunk header fields are missing or invalid");
  }
  const data = buffer.subarray(PREFIX_BYTES + headerLength);
  if (data.length === 0 || data.length > MAX_CHUNK_BYTES) {
    throw new ProtocolError("PROTO_BAD_CHUNK", `chunk data of ${data.length} bytes is out of range`);
  }
  if (h.sha256 !== undefined && createHash("sha256").update(data).digest("hex") !== h.sha256) {
    throw new ProtocolError("PROTO_CHUNK_CORRUPT", "chunk data does not match its SHA-256");
  }
  const chunk: Chunk = { transferId: h.transferId, sopInstanceUid: h.sopInstanceUid, offset: h.offset, data };
  if (h.sha256 !== undefined) chunk.sha256 = h.sha256;
  return chunk;
}

// ── up/preview ──────────────────────────────────────────────────────────────────────────────────

/** The codes `encodePreview` and `decodePreview` throw (as `ProtocolError.code`). */
export const PREVIEW_ERRORS = Object.freeze({
  /** Not a DXP1 payload, a header that is not valid JSON or fails the schema, or data that is not the declared media type. */
  bad: "PROTO_BAD_PREVIEW",
  /** The image is larger than MAX_PREVIEW_BYTES (or the header larger than MAX_PREVIEW_HEADER_BYTES). */
  tooLarge: "PROTO_PREVIEW_TOO_LARGE",
  /** The image's length or SHA-256 is not the header's `size` / `sha256`: truncated, altered or forged. */
  mismatch: "PROTO_PREVIEW_MISMATCH",
});

/** A decoded (and verified) preview: its header's known fields and the image bytes. */
export interface Preview extends PreviewHeader {
  data: Buffer;
}

/** "DXP1": dxgate preview, layout version 1. */
const PREVIEW_MAGIC = Buffer.from("DXP1", "ascii");
/** The largest payload `decodePreview` looks at: prefix, the longest header, the largest image. */
export const MAX_PREVIEW_PAYLOAD_BYTES = PREFIX_BYTES + MAX_PREVIEW_HEADER_BYTES + MAX_PREVIEW_BYTES;
const validatePreviewHeader = ajv.compile(PREVIEW_HEADER_SCHEMA);

/**
 * Binary preview layout: 4 bytes magic "DXP1", uint32 big-endian header length H, H bytes of UTF-8
 * JSON `PreviewHeader`, then the image. Validates exactly as `decodePreview` does (header schema,
 * size limits, size and SHA-256 of `data`, the media type's signature) and throws the same
 * `ProtocolError`s, so a preview the county would refuse is never sent.
 */
export function encodePreview(header: PreviewHeader, data: Uint8Array): Buffer {
  const known = previewHeaderFields(header);
  checkPreviewHeader(known);
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  checkPreviewData(known, bytes);
  const json = Buffer.from(JSON.stringify(known), "utf8");
  if (json.length > MAX_PREVIEW_HEADER_BYTES) {
    throw new ProtocolError(
      PREVIEW_ERRORS.tooLarge,
      `preview header of ${json.length} bytes exceeds the limit`,
    );
  }
  const prefix = Buffer.alloc(PREFIX_BYTES);
  PREVIEW_MAGIC.copy(prefix, 0);
  prefix.writeUInt32BE(json.length, 4);
  return Buffer.concat([prefix, json, bytes]);
}

/**
 * Decode and verify a preview: layout, header schema, limits, the image's size and SHA-256 against
 * the header, and that the bytes are of the declared media type (PNG / JPEG signature, SVG as UTF-8
 * markup). Header fields this version does not know are ignored and not returned.
 */
export function decodePreview(payload: Uint8Array): Preview {
  const buffer = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (buffer.length < PREFIX_BYTES || !buffer.subarray(0, 4).equals(PREVIEW_MAGIC)) {
    throw new ProtocolError(PREVIEW_ERRORS.bad, "preview does not start with the DXP1 prefix");
  }
  const headerLength = buffer.readUInt32BE(4);
  if (headerLength === 0 || PREFIX_BYTES + headerLength > buffer.length) {
    throw new ProtocolError(PREVIEW_ERRORS.bad, "preview header length is out of range");
  }
  if (headerLength > MAX_PREVIEW_HEADER_BYTES) {
    throw new ProtocolError(PREVIEW_ERRORS.tooLarge, "preview header length exceeds the limit");
  }
  let header: unknown;
  try {
    header = JSON.parse(buffer.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength).toString("utf8"));
  } catch {
    throw new ProtocolError(PREVIEW_ERRORS.bad, "preview header is not valid JSON");
  }
  checkPreviewHeader(header);
  const known = previewHeaderFields(header);
  const data = buffer.subarray(PREFIX_BYTES + headerLength);
  checkPreviewData(known, data);
  return { ...known, data };
}

/** Only the fields v1 defines, in a fixed order, without undefined optionals. */
function previewHeaderFields(h: PreviewHeader): PreviewHeader {
  const known: PreviewHeader = {
    studyInstanceUid: h.studyInstanceUid,
    previewId: h.previewId,
    mediaType: h.mediaType,
    sha256: h.sha256,
    size: h.size,
  };
  if (h.width !== undefined) known.width = h.width;
  if (h.height !== undefined) known.height = h.height;
  if (h.description !== undefined) known.description = h.description;
  return known;
}

function checkPreviewHeader(header: unknown): asserts header is PreviewHeader {
  if (validatePreviewHeader(header)) return;
  const first = validatePreviewHeader.errors?.[0];
  // A size over the limit is "too large", not merely "bad": the sender should send a smaller rendition.
  if (first?.instancePath === "/size" && first.keyword === "maximum") {
    throw new ProtocolError(
      PREVIEW_ERRORS.tooLarge,
      `preview of ${(header as PreviewHeader).size} bytes exceeds the limit`,
    );
  }
  const where = first ? `${first.instancePath || "/"} ${first.message ?? ""}` : "invalid";
  throw new ProtocolError(PREVIEW_ERRORS.bad, `preview header: ${where.trim()}`);
}

function checkPreviewData(header: PreviewHeader, data: Buffer): void {
  if (data.length > MAX_PREVIEW_BYTES) {
    throw new ProtocolError(PREVIEW_ERRORS.tooLarge, `preview of ${data.length} bytes exceeds the limit`);
  }
  if (data.length !== header.size) {
    throw new ProtocolError(
      PREVIEW_ERRORS.mismatch,
      `preview has ${data.length} bytes, its header says ${header.size}`,
    );
  }
  if (createHash("sha256").update(data).digest("hex") !== header.sha256) {
    throw new ProtocolError(PREVIEW_ERRORS.mismatch, "preview SHA-256 does not match its header");
  }
  if (!looksLike(header.mediaType, data)) {
    throw new ProtocolError(PREVIEW_ERRORS.bad, `preview data is not ${header.mediaType}`);
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_SOI = Buffer.from([0xff, 0xd8, 0xff]);
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A cheap signature check: a browser is told the media type, so the bytes must be of it. */
function looksLike(mediaType: PreviewMediaType, data: Buffer): boolean {
  switch (mediaType) {
    case "image/png":
      return data.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE);
    case "image/jpeg":
      return data.subarray(0, JPEG_SOI.length).equals(JPEG_SOI);
    case "image/svg+xml": {
      let text: string;
      try {
        text = utf8.decode(data);
      } catch {
        return false;
      }
      // Markup (after an optional BOM and whitespace) with an svg element in it.
      return /^\uFEFF?\s*</.test(text) && /<svg[\s>]/.test(text);
    }
  }
}
