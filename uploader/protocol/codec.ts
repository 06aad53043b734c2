/**
 * Encoding and strict decoding of protocol messages. A receiver never acts on a payload that has not
 * passed `decodeJsonMessage` or `decodeChunk`: forged, truncated or oversized messages become a
 * `ProtocolError` with a code, never an exception from deep inside a handler.
 */
import { Ajv, type ValidateFunction } from "ajv";
import {
  type JsonMessage,
  MAX_CHUNK_BYTES,
  MAX_JSON_MESSAGE_BYTES,
  type MessageType,
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
    h.offset < 0
  ) {
    throw new ProtocolError("PROTO_BAD_CHUNK", "chunk header fields are missing or invalid");
  }
  const data = buffer.subarray(PREFIX_BYTES + headerLength);
  if (data.length === 0 || data.length > MAX_CHUNK_BYTES) {
    throw new ProtocolError("PROTO_BAD_CHUNK", `chunk data of ${data.length} bytes is out of range`);
  }
  return { transferId: h.transferId, sopInstanceUid: h.sopInstanceUid, offset: h.offset, data };
}
