/**
 * Message types and their JSON schemas, protocol version 1. One type and one schema per message;
 * the schemas are the contract (PROTOCOL.md quotes them), the types mirror them for the compiler.
 *
 * Compatibility rule: within v1 a sender may add optional fields and receivers ignore fields they do
 * not know (no `additionalProperties: false` on message bodies); anything else is a new topic version.
 */
export const PRIORITIES = ["stat", "urgent", "routine"] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Lower rank goes first. */
export const PRIORITY_RANK: Readonly<Record<Priority, number>> = Object.freeze({
  stat: 0,
  urgent: 1,
  routine: 2,
});

/** Largest JSON message either end accepts. */
export const MAX_JSON_MESSAGE_BYTES = 1024 * 1024;
/** Largest chunk payload (data bytes) a sender may use and a receiver accepts. */
export const MAX_CHUNK_BYTES = 1024 * 1024;
/** Smallest chunk a sender may be told to use (a county behind a tiny broker limit still gets 1 KiB). */
export const MIN_CHUNK_BYTES = 1024;
/** Most held ranges one manifest-ack lists (≈ 40 bytes each, so a full list stays under MAX_JSON_MESSAGE_BYTES; past it the county lists the largest). */
export const MAX_HELD_RANGES = 20_000;
/**
 * Longest text the manifest carries per descriptive field (characters). These are deliberately
 * wider than the DICOM VR limits: real devices send old-style dates ("1998.01.01"), over-long
 * descriptions and padded values, and a study must never be stuck at the box because one text
 * field is odd. Senders clip to these limits (`clipStudyText`); UIDs stay strict.
 */
export const STUDY_TEXT_LIMITS = Object.freeze({
  short: 64,
  modality: 64,
  patientId: 256,
  patientName: 1024,
  description: 1024,
});

/** Clip a descriptive value to `limit` characters (never splitting a surrogate pair). */
export function clipStudyText(value: string, limit: number): string {
  const chars = Array.from(value);
  return chars.length <= limit ? value : chars.slice(0, limit).join("");
}

/** Most instances one manifest may list. */
export const MAX_INSTANCES_PER_STUDY = 20000;

export interface PatientDescriptor {
  id: string;
  name: string;
  sex: string;
  birthDate: string;
  age: string;
}

export interface StudyDescriptor {
  studyInstanceUid: string;
  priority: Priority;
  modalities: string[];
  patient: PatientDescriptor;
  studyDate: string;
  studyTime: string;
  studyDescription: string;
  accessionNumber: string;
  /** When the box received the first instance (ISO 8601). */
  receivedAt: string;
}

export interface InstanceDescriptor {
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  seriesInstanceUid: string;
  /** Size in bytes of the DICOM Part 10 file. */
  size: number;
  /** Lower-case hex SHA-256 of the Part 10 file. */
  sha256: string;
}

interface Envelope {
  v: 1;
  /** When the sender built the message (ISO 8601). */
  sentAt: string;
}

export interface ManifestMessage extends Envelope {
  type: "manifest";
  /** Fresh for every upload attempt; chunks and the commit refer to it. */
  transferId: string;
  study: StudyDescriptor;
  instances: InstanceDescriptor[];
  /**
   * The largest data bytes per chunk the box offers for this transfer. The reading centre answers
   * with the size to use (`ManifestAckMessage.chunkSize`, never larger); a box that gets no
   * manifest-ack (an older county) uses this one.
   */
  chunkSize: number;
  /** The box's signature (signing.ts); required by a county that knows the box's key. */
  signature?: MessageSignature;
}

/** An Ed25519 signature of a message by the box's own key (see signing.ts for what is signed). */
export interface MessageSignature {
  alg: "Ed25519";
  /** Base64 of the 64-byte signature. */
  value: string;
}

/**
 * A byte range `[start, end)` the reading centre already holds of the manifest's instance at
 * `index` (its position in `instances`), for that instance's size and SHA-256. `[i, 0, size]` means
 * the whole instance.
 */
export type HeldRange = [index: number, start: number, end: number];

/** The reading centre's answer to a manifest: what it already holds, and the chunk size to use. */
export interface ManifestAckMessage extends Envelope {
  type: "manifest-ack";
  transferId: string;
  studyInstanceUid: string;
  /** "error": do not send chunks for this transfer (see `error.code`; retry later). */
  status: "ok" | "error";
  /** Data bytes per chunk for this transfer: at most the manifest's `chunkSize`. */
  chunkSize: number;
  /** Ranges already held (any order; may overlap). Bytes not covered are to be sent. */
  held: HeldRange[];
  /** With status "error": a hint when to try again (quota, busy). */
  retryAfterMs?: number;
  error?: { code: string; message: string };
}

export interface CommitMessage extends Envelope {
  type: "commit";
  transferId: string;
  studyInstanceUid: string;
  instanceCount: number;
  /**
   * SHA-256 (hex) of the manifest payload bytes this commit closes, so that a signed commit cannot
   * be replayed against another manifest of the same transfer id.
   */
  manifestSha256?: string;
  signature?: MessageSignature;
}

export interface CommitAckMessage extends Envelope {
  type: "commit-ack";
  transferId: string;
  studyInstanceUid: string;
  status: "ok" | "error";
  /** SOP Instance UIDs the reading centre now holds durably and verified. */
  stored: string[];
  /** SOP Instance UIDs of the manifest it does not hold (incomplete or failed verification). */
  missing: string[];
  error?: { code: string; message: string };
}

export interface ReportMessage extends Envelope {
  type: "report";
  reportId: string;
  studyInstanceUid: string;
  findings: string;
  impression: string;
  critical: boolean;
  reportedBy: string;
  reportedAt: string;
}

export interface ReportAckMessage extends Envelope {
  type: "report-ack";
  reportId: string;
  studyInstanceUid: string;
  status: "ok" | "error";
  error?: { code: string; message: string };
}

export interface StatusMessage extends Envelope {
  type: "status";
  online: boolean;
  /** Studies waiting to upload, when online. */
  queueDepth?: number;
  /** Bytes of those studies' instances. */
  queueBytes?: number;
  /** Studies of priority "stat" among them. */
  queueStat?: number;
  /** When the oldest of them was received by the box (ISO 8601). */
  oldestQueuedAt?: string;
  /** The study being uploaded now, if any (a UID only: no patient data in status). */
  uploading?: string;
  /**
   * How often the box re-publishes its online status (ms): the county shows a box whose last status
   * is older than three of these as stale.
   */
  statusIntervalMs?: number;
  software?: string;
}

export type JsonMessage =
  | ManifestMessage
  | ManifestAckMessage
  | CommitMessage
  | CommitAckMessage
  | ReportMessage
  | ReportAckMessage
  | StatusMessage;

export type MessageType = JsonMessage["type"];

const UID = { type: "string", pattern: "^[0-9]+(\\.[0-9]+)*$", maxLength: 64 } as const;
const ID = { type: "string", minLength: 1, maxLength: 128 } as const;
const TIME = { type: "string", minLength: 1, maxLength: 40 } as const;
const TEXT = (maxLength: number) => ({ type: "string", maxLength }) as const;
const ENVELOPE = { v: { const: 1 }, sentAt: TIME } as const;
const SHA256_HEX = { type: "string", pattern: "^[0-9a-f]{64}$" } as const;
const SIGNATURE = {
  type: "object",
  required: ["alg", "value"],
  properties: {
    alg: { const: "Ed25519" },
    // 64 bytes of Ed25519 signature in base64: 88 characters with padding.
    value: { type: "string", pattern: "^[A-Za-z0-9+/]{86}==$" },
  },
} as const;
const ERROR = {
  type: "object",
  required: ["code", "message"],
  properties: { code: TEXT(64), message: TEXT(1000) },
} as const;

export const SCHEMAS: Readonly<Record<MessageType, object>> = Object.freeze({
  manifest: {
    type: "object",
    required: ["v", "type", "sentAt", "transferId", "study", "instances", "chunkSize"],
    properties: {
      ...ENVELOPE,
      type: { const: "manifest" },
      transferId: ID,
      chunkSize: { type: "integer", minimum: MIN_CHUNK_BYTES, maximum: MAX_CHUNK_BYTES },
      signature: SIGNATURE,
      study: {
        type: "object",
        required: [
          "studyInstanceUid",
          "priority",
          "modalities",
          "patient",
          "studyDate",
          "studyTime",
          "studyDescription",
          "accessionNumber",
          "receivedAt",
        ],
        properties: {
          studyInstanceUid: UID,
          priority: { enum: [...PRIORITIES] },
          modalities: { type: "array", maxItems: 16, items: TEXT(STUDY_TEXT_LIMITS.modality) },
          patient: {
            type: "object",
            required: ["id", "name", "sex", "birthDate", "age"],
            properties: {
              id: TEXT(STUDY_TEXT_LIMITS.patientId),
              name: TEXT(STUDY_TEXT_LIMITS.patientName),
              sex: TEXT(STUDY_TEXT_LIMITS.short),
              birthDate: TEXT(STUDY_TEXT_LIMITS.short),
              age: TEXT(STUDY_TEXT_LIMITS.short),
            },
          },
          studyDate: TEXT(STUDY_TEXT_LIMITS.short),
          studyTime: TEXT(STUDY_TEXT_LIMITS.short),
          studyDescription: TEXT(STUDY_TEXT_LIMITS.description),
          accessionNumber: TEXT(STUDY_TEXT_LIMITS.short),
          receivedAt: TIME,
        },
      },
      instances: {
        type: "array",
        minItems: 1,
        maxItems: MAX_INSTANCES_PER_STUDY,
        items: {
          type: "object",
          required: [
            "sopInstanceUid",
            "sopClassUid",
            "transferSyntaxUid",
            "seriesInstanceUid",
            "size",
            "sha256",
          ],
          properties: {
            sopInstanceUid: UID,
            sopClassUid: UID,
            transferSyntaxUid: UID,
            seriesInstanceUid: { anyOf: [UID, { const: "" }] },
            size: { type: "integer", minimum: 1, maximum: 2 ** 42 },
            sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
          },
        },
      },
    },
  },
  commit: {
    type: "object",
    required: ["v", "type", "sentAt", "transferId", "studyInstanceUid", "instanceCount"],
    properties: {
      ...ENVELOPE,
      type: { const: "commit" },
      transferId: ID,
      studyInstanceUid: UID,
      instanceCount: { type: "integer", minimum: 1, maximum: MAX_INSTANCES_PER_STUDY },
      manifestSha256: SHA256_HEX,
      signature: SIGNATURE,
    },
  },
  "manifest-ack": {
    type: "object",
    required: ["v", "type", "sentAt", "transferId", "studyInstanceUid", "status", "chunkSize", "held"],
    properties: {
      ...ENVELOPE,
      type: { const: "manifest-ack" },
      transferId: ID,
      studyInstanceUid: UID,
      status: { enum: ["ok", "error"] },
      chunkSize: { type: "integer", minimum: MIN_CHUNK_BYTES, maximum: MAX_CHUNK_BYTES },
      held: {
        type: "array",
        maxItems: MAX_HELD_RANGES,
        items: {
          type: "array",
          minItems: 3,
          maxItems: 3,
          items: [
            { type: "integer", minimum: 0, maximum: MAX_INSTANCES_PER_STUDY - 1 },
            { type: "integer", minimum: 0, maximum: 2 ** 42 },
            { type: "integer", minimum: 0, maximum: 2 ** 42 },
          ],
        },
      },
      retryAfterMs: { type: "integer", minimum: 0, maximum: 86_400_000 },
      error: ERROR,
    },
  },
  "commit-ack": {
    type: "object",
    required: ["v", "type", "sentAt", "transferId", "studyInstanceUid", "status", "stored", "missing"],
    properties: {
      ...ENVELOPE,
      type: { const: "commit-ack" },
      transferId: ID,
      studyInstanceUid: UID,
      status: { enum: ["ok", "error"] },
      stored: { type: "array", maxItems: MAX_INSTANCES_PER_STUDY, items: UID },
      missing: { type: "array", maxItems: MAX_INSTANCES_PER_STUDY, items: UID },
      error: ERROR,
    },
  },
  report: {
    type: "object",
    required: [
      "v",
      "type",
      "sentAt",
      "reportId",
      "studyInstanceUid",
      "findings",
      "impression",
      "critical",
      "reportedBy",
      "reportedAt",
    ],
    properties: {
      ...ENVELOPE,
      type: { const: "report" },
      reportId: ID,
      studyInstanceUid: UID,
      findings: TEXT(65536),
      impression: TEXT(16384),
      critical: { type: "boolean" },
      reportedBy: TEXT(128),
      reportedAt: TIME,
    },
  },
  "report-ack": {
    type: "object",
    required: ["v", "type", "sentAt", "reportId", "studyInstanceUid", "status"],
    properties: {
      ...ENVELOPE,
      type: { const: "report-ack" },
      reportId: ID,
      studyInstanceUid: UID,
      status: { enum: ["ok", "error"] },
      error: ERROR,
    },
  },
  status: {
    type: "object",
    required: ["v", "type", "sentAt", "online"],
    properties: {
      ...ENVELOPE,
      type: { const: "status" },
      online: { type: "boolean" },
      queueDepth: { type: "integer", minimum: 0 },
      queueBytes: { type: "integer", minimum: 0 },
      queueStat: { type: "integer", minimum: 0 },
      oldestQueuedAt: TIME,
      uploading: UID,
      statusIntervalMs: { type: "integer", minimum: 1 },
      software: TEXT(64),
    },
  },
});

// ── up/preview (binary, see codec.ts encodePreview / decodePreview) ─────────────────────────────

/** What a preview may be. Rendered by browsers as is, so nothing else is accepted. */
export const PREVIEW_MEDIA_TYPES = ["image/png", "image/svg+xml", "image/jpeg"] as const;
export type PreviewMediaType = (typeof PREVIEW_MEDIA_TYPES)[number];

/**
 * Largest preview image (bytes) a sender may send and a receiver accepts. With its header and the
 * MQTT framing it stays well under the county broker's publish limit. It is an upper bound, not a
 * target: a box behind a broker with a lower publish cap (some managed brokers allow 64 KiB) sends a
 * smaller rendition, or none (`maxPreviewBytes` in the uploader's options).
 */
export const MAX_PREVIEW_BYTES = 768 * 1024;
/** Longest preview header (UTF-8 JSON bytes) either end accepts. */
export const MAX_PREVIEW_HEADER_BYTES = 8 * 1024;
/** Most distinct previews (previewIds) one study may have at the reading centre. */
export const MAX_PREVIEWS_PER_STUDY = 100;
/**
 * A preview id: stable for what the preview depicts (e.g. the SOP Instance UID of the instance it
 * shows, or "sheet-1" for the first page of an ECG sheet). It names a file at the reading centre and
 * a URL segment, so no slashes, no leading dot.
 */
export const PREVIEW_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The JSON header of a preview. No patient data is needed here; the image itself may show the
 * patient header (an ECG sheet does), so the bytes are patient data like everything else.
 */
export interface PreviewHeader {
  studyInstanceUid: string;
  previewId: string;
  mediaType: PreviewMediaType;
  /** Lower-case hex SHA-256 of the image bytes. */
  sha256: string;
  /** Bytes of the image, 1 … MAX_PREVIEW_BYTES. */
  size: number;
  /** Pixel size (for SVG: the nominal rendering size), when the sender knows it. */
  width?: number;
  height?: number;
  /** Short free text for the viewer ("12-lead sheet", "series 2 image 14"); no patient data. */
  description?: string;
}

/** The preview header's schema. Unknown fields are ignored (v1 compatibility rule). */
export const PREVIEW_HEADER_SCHEMA = Object.freeze({
  type: "object",
  required: ["studyInstanceUid", "previewId", "mediaType", "sha256", "size"],
  properties: {
    studyInstanceUid: UID,
    previewId: { type: "string", pattern: PREVIEW_ID_PATTERN.source },
    mediaType: { enum: [...PREVIEW_MEDIA_TYPES] },
    sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
    size: { type: "integer", minimum: 1, maximum: MAX_PREVIEW_BYTES },
    width: { type: "integer", minimum: 1, maximum: 65535 },
    height: { type: "integer", minimum: 1, maximum: 65535 },
    description: TEXT(STUDY_TEXT_LIMITS.description),
  },
});
