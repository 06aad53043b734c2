/**
 * The reading centre's configuration: one schema (defaults written once, in the schema), one table of
 * environment overrides (their names are a published contract), validated at start with every
 * problem named by its key, then frozen and passed down as an argument.
 */
import { type ConfigSources, type EnvOverride, loadConfig } from "../common/config-loader.ts";

export interface ReadingCentreConfig {
  dataDir: string;
  countyId: string;
  http: { host: string; port: number };
  /** `brokerUrl` set: no embedded broker, the receiver connects to that (clustered) broker instead. */
  mqtt: { host: string; port: number; brokerUrl?: string };
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
