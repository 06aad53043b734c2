/**
 * The gateway's configuration: one schema (defaults written once, in the schema), one table of
 * environment overrides (their names are a published contract), validated at start with every
 * problem named by its key, then frozen and passed down as an argument.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { isAbsolute } from "node:path";
import { ConfigError, type ConfigSources, type EnvOverride, loadConfig } from "../common/config-loader.ts";
import { type DeviceProfile, loadProfiles } from "../device-drivers/index.ts";
import type { BrokerTls } from "../uploader/index.ts";
import { loadSigningKey } from "../uploader/protocol/index.ts";

export interface GatewayConfig {
  /** Site (township health centre) id: a topic level and the namespace of this box's patients. */
  siteId: string;
  countyId: string;
  dataDir: string;
  dicom: {
    aeTitle: string;
    host: string;
    port: number;
    /** Known modalities (device-drivers/dicom/admission.ts). */
    devices: Array<{ aeTitle: string; hosts?: string[]; name?: string; port?: number }>;
    /** Unset: admit unknown Calling AE Titles only while `devices` is empty. */
    allowUnknown?: boolean;
    maxAssociations: number;
    idleTimeoutMs: number;
    tls?: { port: number; cert: string; key: string; ca?: string; requireClientCert: boolean };
    commitment: "stored" | "delivered";
    commitmentWaitMs: number;
  };
  http: { host: string; port: number };
  /**
   * The county broker. `url` may carry the box's `user:password@`; `ca`/`cert`/`key` are PEM file
   * paths for mqtts (the county CA; the box's client certificate and key); `signingKey` the PEM file
   * of the box's Ed25519 key that signs manifests and commits.
   */
  broker: { url: string; ca?: string; cert?: string; key?: string; signingKey?: string };
  studies: {
    quietPeriodMs: number;
    defaultPriority: "stat" | "urgent" | "routine";
    ecgPriority: "stat" | "urgent" | "routine";
  };
  upload: {
    chunkSize: number;
    window: number;
    ackTimeoutMs: number;
    manifestAckTimeoutMs: number;
    retryBaseMs: number;
    retryMaxMs: number;
    keepaliveSeconds: number;
    /** kbit/s (0 = unlimited), and by time of day: uploader/bandwidth.ts. */
    bandwidth: { kbps: number; schedule: Array<{ from: string; to: string; kbps: number }> };
  };
  /** Free space (MiB) kept on the spool's disk: below it, new instances are refused (A700). */
  spool: { reserveMb: number };
  /** Folder and USB import (device-drivers/media): watched folders, the stick mount root, poll interval. */
  import: { folders: string[]; usbMountRoot: string; scanIntervalMs: number };
  /** Modality Worklist: when a registration stops being offered (end of its local day, or after N hours). */
  worklist: { expireAtEndOfDay: boolean; retentionHours: number };
  /** ECG devices on serial lines (device-drivers/serial). */
  serial: {
    /** Devices attached by configuration: a path (may not exist yet: a pty link) and a profile id. */
    devices: Array<{ path: string; profile: string }>;
    /** The same as `PATH=PROFILE` strings, from DXGATE_SERIAL (comma-separated). */
    attach: string[];
    /** A directory of the site's own device profiles (*.json); "" = shipped profiles only. */
    profilesDir: string;
    /** Find USB-serial adapters by hot-plug (/dev, /dev/serial/by-id) and match them to profiles. */
    watch: boolean;
    /** Backstop rescan of the device directories (fs.watch does the prompt part). */
    rescanMs: number;
    /** Jittered exponential back-off between attempts to (re)open a line. */
    reopenBaseMs: number;
    reopenMaxMs: number;
    /** `receiving` falls back to `connected` after this long without valid data. */
    receivingIdleMs: number;
    /** Where sysfs is (tests point it at a fake tree). */
    sysfsRoot: string;
  };
  log: { level: string };
}

const ID = { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$" } as const;
const PORT = { type: "integer", minimum: 0, maximum: 65535 } as const;
const PRIORITY = { enum: ["stat", "urgent", "routine"] } as const;

export const GATEWAY_CONFIG_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["siteId"],
  properties: {
    version: { const: 1, default: 1, description: "config file format version" },
    siteId: { ...ID, description: "this box's site id, unique within the county (DXGATE_SITE_ID)" },
    countyId: { ...ID, default: "county", description: "the county the reading centre serves" },
    dataDir: {
      type: "string",
      minLength: 1,
      default: "./data/gateway",
      description: "spool, index and reports",
    },
    dicom: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        aeTitle: { type: "string", pattern: "^[ -~]{1,16}$", not: { pattern: "\\\\" }, default: "DXGATE" },
        host: { type: "string", default: "0.0.0.0", description: "address the DICOM SCP listens on" },
        port: { ...PORT, default: 11112 },
        devices: {
          type: "array",
          default: [],
          description: "known modalities; when non-empty, other Calling AE Titles are refused",
          items: {
            type: "object",
            additionalProperties: false,
            required: ["aeTitle"],
            properties: {
              aeTitle: { type: "string", pattern: "^[ -~]{1,16}$", not: { pattern: "\\\\" } },
              hosts: {
                type: "array",
                items: { type: "string", pattern: "^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$" },
                description: "IP addresses or CIDR blocks it may connect from; absent = any",
              },
              name: { type: "string", maxLength: 64 },
              port: { ...PORT, minimum: 1, description: "its storage commitment listener" },
            },
          },
        },
        allowUnknown: {
          type: "boolean",
          description: "admit Calling AE Titles not in devices; default: true while devices is empty",
        },
        maxAssociations: { type: "integer", minimum: 1, maximum: 1000, default: 16 },
        idleTimeoutMs: {
          type: "integer",
          minimum: 100,
          maximum: 3600000,
          default: 60000,
          description: "abort an association whose peer completes no PDU for this long",
        },
        tls: {
          type: "object",
          additionalProperties: false,
          required: ["port", "cert", "key"],
          properties: {
            port: PORT,
            cert: { type: "string", minLength: 1, description: "PEM certificate file" },
            key: { type: "string", minLength: 1, description: "PEM private key file" },
            ca: { type: "string", minLength: 1, description: "PEM CA file for client certificates" },
            requireClientCert: { type: "boolean", default: false },
          },
        },
        commitment: {
          enum: ["stored", "delivered"],
          default: "stored",
          description: "storage commitment confirms instances stored at the box, or delivered to the county",
        },
        commitmentWaitMs: {
          type: "integer",
          minimum: 0,
          default: 3600000,
          description: "wait this long for instances not yet committable, then report them failed",
        },
      },
    },
    http: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        host: {
          type: "string",
          default: "0.0.0.0",
          description: "address the technician page and API listen on",
        },
        port: { ...PORT, default: 8081 },
      },
    },
    broker: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        url: {
          type: "string",
          pattern: "^(mqtts?|tcp|tls|ssl|wss?)://",
          default: "mqtt://127.0.0.1:1883",
          description: "may carry the box's credentials: mqtts://SITE:PASSWORD@host:8883 (never logged)",
        },
        ca: {
          type: "string",
          minLength: 1,
          description: "PEM file: the county CA the broker's certificate must chain to",
        },
        cert: {
          type: "string",
          minLength: 1,
          description: "PEM file: the box's client certificate (mutual TLS)",
        },
        key: { type: "string", minLength: 1, description: "PEM file: the private key of broker.cert" },
        signingKey: {
          type: "string",
          minLength: 1,
          description: "PEM file: the box's Ed25519 key; manifests and commits are signed with it",
        },
      },
    },
    studies: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        quietPeriodMs: {
          type: "integer",
          minimum: 0,
          maximum: 86400000,
          default: 10000,
          description: "a study is ready for upload after this long without a new instance (ms)",
        },
        defaultPriority: { ...PRIORITY, default: "routine" },
        ecgPriority: { ...PRIORITY, default: "urgent" },
      },
    },
    upload: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        chunkSize: {
          type: "integer",
          minimum: 1024,
          maximum: 1048576,
          default: 262144,
          description: "bytes",
        },
        window: { type: "integer", minimum: 1, maximum: 256, default: 8, description: "chunks in flight" },
        ackTimeoutMs: { type: "integer", minimum: 100, default: 60000 },
        manifestAckTimeoutMs: {
          type: "integer",
          minimum: 100,
          maximum: 3600000,
          default: 15000,
          description:
            "wait this long for the county's manifest-ack; then send the whole study (an older county)",
        },
        retryBaseMs: { type: "integer", minimum: 10, default: 2000 },
        retryMaxMs: { type: "integer", minimum: 10, default: 300000 },
        keepaliveSeconds: {
          type: "integer",
          minimum: 1,
          maximum: 65535,
          default: 30,
          description: "MQTT keepalive: a dead uplink is noticed after 1.5 × this",
        },
        bandwidth: {
          type: "object",
          additionalProperties: false,
          default: {},
          description: "the uplink budget: the clinic's own traffic keeps working",
          properties: {
            kbps: {
              type: "number",
              minimum: 0,
              default: 0,
              description: "kbit/s outside the schedule; 0 = unlimited",
            },
            schedule: {
              type: "array",
              default: [],
              description: "by time of day (box's local time); the first rule covering the moment applies",
              items: {
                type: "object",
                additionalProperties: false,
                required: ["from", "to", "kbps"],
                properties: {
                  from: { type: "string", pattern: "^([01][0-9]|2[0-3]):[0-5][0-9]$" },
                  to: { type: "string", pattern: "^([01][0-9]|2[0-3]):[0-5][0-9]$" },
                  kbps: { type: "number", minimum: 0 },
                },
              },
            },
          },
        },
      },
    },
    spool: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        reserveMb: {
          type: "integer",
          minimum: 0,
          default: 1024,
          description: "refuse new instances (A700) while the spool disk has less free space (MiB); 0 = off",
        },
      },
    },
    import: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        folders: {
          type: "array",
          items: { type: "string", minLength: 1 },
          default: [],
          description: "folders to import DICOM files from (never modified)",
        },
        usbMountRoot: {
          type: "string",
          default: "/media",
          description: "media mounted below this are imported once per insertion; empty = none",
        },
        scanIntervalMs: { type: "integer", minimum: 100, maximum: 3600000, default: 3000 },
      },
    },
    worklist: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        expireAtEndOfDay: {
          type: "boolean",
          default: true,
          description: "a registration leaves the worklist at midnight after its scheduled day",
        },
        retentionHours: {
          type: "integer",
          minimum: 1,
          maximum: 720,
          default: 24,
          description: "when expireAtEndOfDay is false: hours after the scheduled time",
        },
      },
    },
    serial: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        devices: {
          type: "array",
          default: [],
          description: "ECG devices attached by path (which may appear later), each with a device profile id",
          items: {
            type: "object",
            additionalProperties: false,
            required: ["path", "profile"],
            properties: {
              path: { type: "string", pattern: "^/", description: "absolute device path" },
              profile: { type: "string", minLength: 1 },
            },
          },
        },
        attach: {
          type: "array",
          default: [],
          items: { type: "string" },
          description: "PATH=PROFILE entries (DXGATE_SERIAL, comma-separated); same as devices",
        },
        profilesDir: {
          type: "string",
          default: "",
          description: "the site's own device profiles (*.json); empty = the shipped ones only",
        },
        watch: { type: "boolean", default: true, description: "hot-plug: find USB-serial ECG devices" },
        rescanMs: { type: "integer", minimum: 100, maximum: 600000, default: 2000 },
        reopenBaseMs: { type: "integer", minimum: 10, maximum: 600000, default: 500 },
        reopenMaxMs: { type: "integer", minimum: 10, maximum: 3600000, default: 30000 },
        receivingIdleMs: { type: "integer", minimum: 100, maximum: 600000, default: 5000 },
        sysfsRoot: { type: "string", minLength: 1, default: "/sys" },
      },
    },
    log: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        level: { enum: ["trace", "debug", "info", "warn", "error", "fatal", "silent"], default: "info" },
      },
    },
  },
} as const;

export const GATEWAY_ENV: readonly EnvOverride[] = [
  { env: "DXGATE_SITE_ID", key: "siteId", type: "string" },
  { env: "DXGATE_COUNTY_ID", key: "countyId", type: "string" },
  { env: "DXGATE_DATA_DIR", key: "dataDir", type: "string" },
  { env: "DXGATE_DICOM_AE_TITLE", key: "dicom.aeTitle", type: "string" },
  { env: "DXGATE_DICOM_HOST", key: "dicom.host", type: "string" },
  { env: "DXGATE_DICOM_PORT", key: "dicom.port", type: "integer" },
  { env: "DXGATE_DICOM_ALLOW_UNKNOWN", key: "dicom.allowUnknown", type: "boolean" },
  { env: "DXGATE_DICOM_MAX_ASSOCIATIONS", key: "dicom.maxAssociations", type: "integer" },
  { env: "DXGATE_DICOM_IDLE_TIMEOUT_MS", key: "dicom.idleTimeoutMs", type: "integer" },
  { env: "DXGATE_DICOM_COMMITMENT", key: "dicom.commitment", type: "string" },
  { env: "DXGATE_HTTP_HOST", key: "http.host", type: "string" },
  { env: "DXGATE_HTTP_PORT", key: "http.port", type: "integer" },
  { env: "DXGATE_BROKER_URL", key: "broker.url", type: "string" },
  { env: "DXGATE_BROKER_CA", key: "broker.ca", type: "string" },
  { env: "DXGATE_BROKER_CERT", key: "broker.cert", type: "string" },
  { env: "DXGATE_BROKER_KEY", key: "broker.key", type: "string" },
  { env: "DXGATE_BOX_SIGNING_KEY", key: "broker.signingKey", type: "string" },
  { env: "DXGATE_QUIET_PERIOD_MS", key: "studies.quietPeriodMs", type: "integer" },
  { env: "DXGATE_UPLOAD_CHUNK_SIZE", key: "upload.chunkSize", type: "integer" },
  { env: "DXGATE_UPLOAD_KBPS", key: "upload.bandwidth.kbps", type: "number" },
  { env: "DXGATE_UPLOAD_KEEPALIVE_S", key: "upload.keepaliveSeconds", type: "integer" },
  { env: "DXGATE_UPLOAD_ACK_TIMEOUT_MS", key: "upload.ackTimeoutMs", type: "integer" },
  { env: "DXGATE_UPLOAD_MANIFEST_ACK_TIMEOUT_MS", key: "upload.manifestAckTimeoutMs", type: "integer" },
  { env: "DXGATE_UPLOAD_RETRY_BASE_MS", key: "upload.retryBaseMs", type: "integer" },
  { env: "DXGATE_SPOOL_RESERVE_MB", key: "spool.reserveMb", type: "integer" },
  { env: "DXGATE_IMPORT_FOLDERS", key: "import.folders", type: "list" },
  { env: "DXGATE_IMPORT_USB_MOUNT_ROOT", key: "import.usbMountRoot", type: "string" },
  { env: "DXGATE_IMPORT_SCAN_INTERVAL_MS", key: "import.scanIntervalMs", type: "integer" },
  { env: "DXGATE_SERIAL", key: "serial.attach", type: "list" },
  { env: "DXGATE_SERIAL_PROFILES_DIR", key: "serial.profilesDir", type: "string" },
  { env: "DXGATE_SERIAL_WATCH", key: "serial.watch", type: "boolean" },
  { env: "DXGATE_SERIAL_RESCAN_MS", key: "serial.rescanMs", type: "integer" },
  { env: "DXGATE_SERIAL_REOPEN_BASE_MS", key: "serial.reopenBaseMs", type: "integer" },
  { env: "DXGATE_LOG_LEVEL", key: "log.level", type: "string" },
];

export function loadGatewayConfig(sources: ConfigSources = {}): Readonly<GatewayConfig> {
  const config = loadConfig<GatewayConfig>({
    schema: GATEWAY_CONFIG_SCHEMA,
    envTable: GATEWAY_ENV,
    ...sources,
  });
  const problems = [...serialProblems(config.serial), ...readBrokerCredentials(config.broker).problems];
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** What the uploader gets from `broker.ca`/`cert`/`key`/`signingKey`: the files' contents, checked. */
export interface BrokerCredentials {
  tls?: BrokerTls;
  signingKey?: KeyObject;
}

/**
 * Read and check the broker's TLS files and the box's signing key. Throws a ConfigError naming each
 * bad field (and its environment variable); never puts a file's contents in a message.
 */
export function loadBrokerCredentials(broker: GatewayConfig["broker"]): BrokerCredentials {
  const { credentials, problems } = readBrokerCredentials(broker);
  if (problems.length > 0) throw new ConfigError(problems);
  return credentials;
}

const BROKER_FILE_ENV = {
  ca: "DXGATE_BROKER_CA",
  cert: "DXGATE_BROKER_CERT",
  key: "DXGATE_BROKER_KEY",
  signingKey: "DXGATE_BOX_SIGNING_KEY",
} as const;
const TLS_URL = /^(mqtts|tls|ssl|wss):\/\//;

function readBrokerCredentials(broker: GatewayConfig["broker"]): {
  credentials: BrokerCredentials;
  problems: string[];
} {
  const problems: string[] = [];
  const read = <T>(field: keyof typeof BROKER_FILE_ENV, parse: (pem: Buffer) => T): T | undefined => {
    const path = broker[field];
    if (path === undefined) return undefined;
    const name = `broker.${field} (${BROKER_FILE_ENV[field]})`;
    let pem: Buffer;
    try {
      pem = readFileSync(path);
    } catch (error) {
      problems.push(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
      return undefined;
    }
    try {
      return parse(pem);
    } catch (error) {
      problems.push(`${name}: ${path} is not ${(error as Error).message}`);
      return undefined;
    }
  };
  const certificate = (pem: Buffer) => {
    try {
      new X509Certificate(pem);
    } catch {
      throw new Error("a PEM certificate");
    }
    return pem;
  };
  const ca = read("ca", certificate);
  const cert = read("cert", certificate);
  const key = read("key", (pem) => {
    try {
      createPrivateKey(pem);
    } catch {
      throw new Error("a PEM private key");
    }
    return pem;
  });
  const signingKey = read("signingKey", (pem) => {
    try {
      return loadSigningKey(pem);
    } catch {
      throw new Error("a PEM (PKCS#8) Ed25519 private key");
    }
  });
  if ((broker.cert === undefined) !== (broker.key === undefined)) {
    problems.push("broker.cert / broker.key: a client certificate needs its key (set both or neither)");
  }
  const anyTls = broker.ca !== undefined || broker.cert !== undefined || broker.key !== undefined;
  if (anyTls && !TLS_URL.test(broker.url)) {
    problems.push(
      "broker.url (DXGATE_BROKER_URL): must be mqtts:// when broker.ca, broker.cert or broker.key is set",
    );
  }
  const tls: BrokerTls = {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
  };
  return {
    credentials: {
      ...(anyTls ? { tls } : {}),
      ...(signingKey ? { signingKey } : {}),
    },
    problems,
  };
}

/** The serial devices to attach: `serial.devices` and `serial.attach` (DXGATE_SERIAL) together. */
export function serialDevicesOf(serial: GatewayConfig["serial"]): Array<{ path: string; profile: string }> {
  const attached = serial.attach.flatMap((entry) => {
    const parsed = parseAttach(entry);
    return parsed ? [parsed] : [];
  });
  return [...serial.devices, ...attached];
}

/** The device profiles in force: the shipped ones and the site's (`serial.profilesDir`). */
export function serialProfilesOf(serial: GatewayConfig["serial"]): DeviceProfile[] {
  return loadProfiles({ customDir: serial.profilesDir }).profiles;
}

/** `PATH=PROFILE`, PATH absolute; the last `=` splits (a path may contain one, a profile id cannot). */
function parseAttach(entry: string): { path: string; profile: string } | undefined {
  const at = entry.lastIndexOf("=");
  if (at <= 0) return undefined;
  const path = entry.slice(0, at).trim();
  const profile = entry.slice(at + 1).trim();
  return isAbsolute(path) && profile !== "" ? { path, profile } : undefined;
}

/** What the schema cannot check: DXGATE_SERIAL's form, the site's profile files, known profile ids. */
function serialProblems(serial: GatewayConfig["serial"]): string[] {
  const problems: string[] = [];
  const loaded = loadProfiles({ customDir: serial.profilesDir });
  problems.push(...loaded.problems.map((problem) => `serial.profilesDir: ${problem}`));
  const known = new Set(loaded.profiles.map((p) => p.id));
  const knownList = [...known].sort().join(", ");
  const seen = new Set<string>();
  const check = (key: string, device: { path: string; profile: string }) => {
    if (!known.has(device.profile)) {
      problems.push(`${key}: unknown device profile "${device.profile}" (known: ${knownList})`);
    }
    if (seen.has(device.path)) problems.push(`${key}: ${device.path} is attached twice`);
    seen.add(device.path);
  };
  for (const [index, device] of serial.devices.entries()) check(`serial.devices.${index}.profile`, device);
  serial.attach.forEach((entry, index) => {
    const key = `serial.attach.${index} (DXGATE_SERIAL)`;
    const parsed = parseAttach(entry);
    if (!parsed)
      problems.push(`${key}: must be PATH=PROFILE with an absolute PATH (got ${JSON.stringify(entry)})`);
    else check(key, parsed);
  });
  if (serial.reopenMaxMs < serial.reopenBaseMs) {
    problems.push(`serial.reopenMaxMs: must be >= serial.reopenBaseMs (${serial.reopenBaseMs})`);
  }
  return problems;
}
