/**
 * The one place a serial ECG protocol is registered: its name (what a device profile's `protocol`
 * says), the JSON Schema of its `protocolSettings`, and how to make a decoder for one line. The
 * serial driver knows protocols only through this table, and no protocol imports another or the
 * driver. Adding a protocol = one decoder module implementing `LineDecoder` + one entry below.
 */
import { Ajv, type ErrorObject } from "ajv";
import type { LineDecoder } from "../ecg/line-decoder.ts";
import { createScpEcgLineDecoder } from "../ecg/scp-ecg/index.ts";
import {
  createStreamLineDecoder,
  resolveStreamSettings,
  STREAM_SETTINGS_SCHEMA,
} from "../ecg/stream/index.ts";

export interface SerialProtocol {
  /** The name profiles use, e.g. "scp-ecg". */
  name: string;
  description: string;
  /**
   * JSON Schema of the profile's `protocolSettings` (an object). Defaults written in the schema are
   * filled in before `createDecoder` sees the settings.
   */
  settingsSchema: object;
  /**
   * Rules the schema cannot express (one field against another): problems as `field: message`,
   * relative to the settings object. Absent = the schema says it all.
   */
  checkSettings?(settings: Readonly<Record<string, unknown>>): string[];
  /** A fresh decoder for one line; called on every (re)connection, so no state leaks across them. */
  createDecoder(settings: Readonly<Record<string, unknown>>): LineDecoder;
}

const MIB = 1024 * 1024;

/** The registered protocols. */
export const SERIAL_PROTOCOLS: readonly SerialProtocol[] = [
  {
    name: "scp-ecg",
    description: "SCP-ECG (EN 1064) records sent whole, one after another, by resting ECG carts",
    settingsSchema: {
      type: "object",
      additionalProperties: false,
      properties: {
        maxRecordBytes: {
          type: "integer",
          minimum: 1024,
          maximum: 64 * MIB,
          default: 16 * MIB,
          description: "a record header stating more is treated as line noise",
        },
      },
    },
    createDecoder: (settings) =>
      createScpEcgLineDecoder({ maxRecordBytes: settings.maxRecordBytes as number }),
  },
  {
    name: "ecg-stream",
    description:
      "fixed-frame sample stream of ECG acquisition modules (device-drivers/ecg/stream/PROTOCOL.md)",
    settingsSchema: STREAM_SETTINGS_SCHEMA,
    checkSettings(settings) {
      try {
        resolveStreamSettings(settings);
        return [];
      } catch (error) {
        const field = (error as { details?: { field?: string } }).details?.field ?? "(root)";
        const message = (error as Error).message.replace(/^.*?protocolSettings\.[^:]*: /, "");
        return [`${field}: ${message}`];
      }
    },
    createDecoder: (settings) => createStreamLineDecoder(settings),
  },
];

export function findProtocol(
  name: string,
  protocols: readonly SerialProtocol[] = SERIAL_PROTOCOLS,
): SerialProtocol | undefined {
  return protocols.find((protocol) => protocol.name === name);
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const compiled = new WeakMap<object, ReturnType<Ajv["compile"]>>();

/**
 * Check a profile's `protocolSettings` against its protocol's schema. Returns the settings with the
 * schema's defaults filled in (a copy; the input is not changed), or every problem, each naming its
 * field below `at` (e.g. `protocolSettings.leadCount: must be >= 1 (got 0)`).
 */
export function validateProtocolSettings(
  protocol: SerialProtocol,
  settings: unknown,
  at = "protocolSettings",
): { settings: Record<string, unknown> } | { problems: string[] } {
  let validate = compiled.get(protocol.settingsSchema);
  if (!validate) {
    validate = ajv.compile(protocol.settingsSchema);
    compiled.set(protocol.settingsSchema, validate);
  }
  const copy = structuredClone(settings ?? {});
  if (!validate(copy)) {
    return { problems: (validate.errors ?? []).map((error) => describeSchemaError(error, copy, at)) };
  }
  const problems = protocol.checkSettings?.(copy as Record<string, unknown>) ?? [];
  if (problems.length > 0) return { problems: problems.map((problem) => `${at}.${problem}`) };
  return { settings: copy as Record<string, unknown> };
}

/** One ajv error as `field.path: message (got value)`, the way the config loader words them. */
export function describeSchemaError(error: ErrorObject, root: unknown, at: string): string {
  const path = error.instancePath.slice(1).replaceAll("/", ".");
  const field = [at, path].filter(Boolean).join(".");
  const under = (name: string) => [field, name].filter(Boolean).join(".");
  if (error.keyword === "additionalProperties") {
    return `${under((error.params as { additionalProperty: string }).additionalProperty)}: unknown key`;
  }
  if (error.keyword === "required") {
    return `${under((error.params as { missingProperty: string }).missingProperty)}: is required`;
  }
  return `${field || "(root)"}: ${error.message ?? "invalid"} (got ${JSON.stringify(valueAt(root, path))})`;
}

function valueAt(root: unknown, dotted: string): unknown {
  let node = root;
  for (const key of dotted ? dotted.split(".") : []) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
