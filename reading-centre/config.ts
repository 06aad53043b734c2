/**
 * The reading centre's configuration: one schema (defaults written once, in the schema), one table of
 * environment overrides (their names are a published contract), validated at start with every
 * problem named by its key, then frozen and passed down as an argument.
 */
import { readFileSync } from "node:fs";
import { ConfigError, type ConfigSources, type EnvOverride, loadConfig } from "../common/config-loader.ts";

export interface ReadingCentreConfig {
  dataDir: string;
  countyId: string;
  http: { host: string; port: number };
  /** `brokerUrl` set: no embedded broker, the receiver connects to that (clustered) broker instead. */
  mqtt: {
    host: string;
    port: number;
    brokerUrl?: string;
    /** TLS listener of the embedded broker (file paths); `ca` set: client certificates are requested. */
    tls?: { host: string; port: number; cert: string; key: string; ca?: string };
    /** The URL add-box writes into a box's box.env (default: the TLS listener if any, else the plain one). */
    publicUrl?: string;
    /** Largest chunk a box may use (the manifest-ack's chunk size is at most this). */
    maxChunkBytes: number;
    /** CA file that signed an external (`mqtts://`) broker's certificate. */
    brokerCa?: string;
    /** External broker only: chunks through a shared subscription (chunk-worker processes share them). */
    sharedChunks: boolean;
  };
  security: { requireSignatures: boolean };
  quotas: { stagingBytesPerBox: number };
  demo: boolean;
  reportRetryMs: number;
  log: { level: string };
}

const ID = { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$" } as const;
const PORT = { type: "integer", minimum: 0, maximum: 65535 } as const;

// Nested objects carry `default: {}` so ajv's useDefaults fills their own defaults when the parent
// is absent from the file (it only descends into objects that exist).
export const READING_CENTRE_CONFIG_SCHEMA = {
  type: "object",
  additionalProperties: false,
  properties: {
    version: { const: 1, default: 1, description: "config file format version" },
    dataDir: {
      type: "string",
      minLength: 1,
      default: "./data/reading-centre",
      description: "instance store, study index, staging, users (DXGATE_RC_DATA_DIR)",
    },
    countyId: { ...ID, default: "county", description: "the county this reading centre serves" },
    http: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: "string", minLength: 1, default: "127.0.0.1" },
        port: { ...PORT, default: 8080 },
      },
    },
    mqtt: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: "string", minLength: 1, default: "127.0.0.1", description: "embedded broker address" },
        port: { ...PORT, default: 1883, description: "embedded broker port" },
        brokerUrl: {
          type: "string",
          pattern: "^(mqtts?|tcp|tls|wss?)://",
          description: "external broker; when set, no broker is embedded",
        },
        brokerCa: {
          type: "string",
          minLength: 1,
          description: "CA certificate (PEM file) that signed the external broker's server certificate",
        },
        sharedChunks: {
          type: "boolean",
          default: false,
          description:
            "external broker only: take chunks through a shared subscription, so chunk-worker processes share them",
        },
        tls: {
          type: "object",
          additionalProperties: false,
          required: ["cert", "key"],
          description: "TLS listener of the embedded broker; absent: none",
          properties: {
            host: { type: "string", minLength: 1, default: "0.0.0.0", description: "TLS listener address" },
            port: { ...PORT, default: 8883 },
            cert: { type: "string", minLength: 1, description: "server certificate (PEM file)" },
            key: { type: "string", minLength: 1, description: "server private key (PEM file)" },
            ca: {
              type: "string",
              minLength: 1,
              description: "county CA (PEM file): client certificates it issued are accepted as their CN",
            },
          },
        },
        publicUrl: {
          type: "string",
          pattern: "^(mqtts?|tcp|tls|wss?)://",
          description: "broker URL add-box gives the boxes (default: the TLS listener, else the plain one)",
        },
        maxChunkBytes: {
          type: "integer",
          minimum: 1024,
          maximum: 1048576,
          default: 262144,
          description: "largest chunk a box may send (negotiated down in the manifest-ack)",
        },
      },
    },
    security: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        requireSignatures: {
          type: "boolean",
          default: true,
          description: "refuse unsigned manifests and commits and those of unregistered boxes",
        },
      },
    },
    quotas: {
      type: "object",
      additionalProperties: false,
      default: {},
      properties: {
        stagingBytesPerBox: {
          type: "integer",
          minimum: 1024,
          default: 8589934592,
          description: "most bytes one box may have staged in incomplete transfers",
        },
      },
    },
    demo: { type: "boolean", default: false, description: "create the demo/demo diagnostician account" },
    reportRetryMs: {
      type: "integer",
      minimum: 50,
      maximum: 86400000,
      default: 10000,
      description: "re-send an unacknowledged report after this long (ms)",
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

export const READING_CENTRE_ENV: readonly EnvOverride[] = [
  { env: "DXGATE_RC_DATA_DIR", key: "dataDir", type: "string" },
  { env: "DXGATE_RC_HTTP_PORT", key: "http.port", type: "integer" },
  { env: "DXGATE_RC_HTTP_HOST", key: "http.host", type: "string" },
  { env: "DXGATE_RC_MQTT_PORT", key: "mqtt.port", type: "integer" },
  { env: "DXGATE_RC_MQTT_HOST", key: "mqtt.host", type: "string" },
  { env: "DXGATE_RC_BROKER_URL", key: "mqtt.brokerUrl", type: "string" },
  { env: "DXGATE_RC_BROKER_CA", key: "mqtt.brokerCa", type: "string" },
  { env: "DXGATE_RC_SHARED_CHUNKS", key: "mqtt.sharedChunks", type: "boolean" },
  { env: "DXGATE_RC_MQTT_TLS_PORT", key: "mqtt.tls.port", type: "integer" },
  { env: "DXGATE_RC_MQTT_TLS_HOST", key: "mqtt.tls.host", type: "string" },
  { env: "DXGATE_RC_MQTT_TLS_CERT", key: "mqtt.tls.cert", type: "string" },
  { env: "DXGATE_RC_MQTT_TLS_KEY", key: "mqtt.tls.key", type: "string" },
  { env: "DXGATE_RC_MQTT_TLS_CA", key: "mqtt.tls.ca", type: "string" },
  { env: "DXGATE_RC_MQTT_PUBLIC_URL", key: "mqtt.publicUrl", type: "string" },
  { env: "DXGATE_RC_MAX_CHUNK_BYTES", key: "mqtt.maxChunkBytes", type: "integer" },
  { env: "DXGATE_RC_REQUIRE_SIGNATURES", key: "security.requireSignatures", type: "boolean" },
  { env: "DXGATE_RC_STAGING_QUOTA_BYTES", key: "quotas.stagingBytesPerBox", type: "integer" },
  { env: "DXGATE_RC_COUNTY_ID", key: "countyId", type: "string" },
  { env: "DXGATE_RC_DEMO", key: "demo", type: "boolean" },
  { env: "DXGATE_RC_REPORT_RETRY_MS", key: "reportRetryMs", type: "integer" },
  { env: "DXGATE_LOG_LEVEL", key: "log.level", type: "string" },
];

export function loadReadingCentreConfig(sources: ConfigSources = {}): Readonly<ReadingCentreConfig> {
  return loadConfig<ReadingCentreConfig>({
    schema: READING_CENTRE_CONFIG_SCHEMA,
    envTable: READING_CENTRE_ENV,
    ...sources,
  });
}

/** The external broker's CA certificate, read once at start; a missing file names the setting. */
export function readBrokerCa(config: Readonly<ReadingCentreConfig>): Buffer | undefined {
  const file = config.mqtt.brokerCa;
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ConfigError([
      `mqtt.brokerCa (DXGATE_RC_BROKER_CA): cannot read ${file} (${(error as NodeJS.ErrnoException).code})`,
    ]);
  }
}
