/**
 * Configuration loading shared by both processes: defaults (from the schema), then the JSON file,
 * then environment overrides from an explicit table (the names are a published contract), validated
 * against one JSON Schema with every error reported at once and named by its key, then deep-frozen.
 */
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { DxgateError } from "./errors.ts";

/** An environment variable and the dotted config key it sets, with how to parse its text. */
export interface EnvOverride {
  env: string;
  key: string;
  /** "list": comma-separated, each item trimmed, empty items dropped (e.g. several folders). */
  type: "string" | "integer" | "boolean" | "number" | "list";
}

export interface LoadConfigOptions {
  /** JSON Schema with `default`s; `additionalProperties: false` so a mistyped key is an error. */
  schema: object;
  envTable: readonly EnvOverride[];
  env?: NodeJS.ProcessEnv;
  /** Path of a JSON config file, if any. */
  file?: string | undefined;
  /** Values applied after the file and before the environment (used by tests and the demo). */
  overrides?: Record<string, unknown>;
}

/** Where a process's configuration comes from: a file, the environment, and test/demo overrides. */
export type ConfigSources = Pick<LoadConfigOptions, "file" | "env" | "overrides">;

export class ConfigError extends DxgateError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super("CONFIG_INVALID", `configuration is not valid:\n  - ${problems.join("\n  - ")}`, 500, { problems });
    this.problems = problems;
  }
}

export function loadConfig<T>(options: LoadConfigOptions): Readonly<T> {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  let value: Record<string, unknown> = {};
  if (options.file) {
    try {
      value = JSON.parse(readFileSync(options.file, "utf8")) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError([`config file ${options.file}: ${(error as Error).message}`]);
    }
  }
  for (const [key, v] of Object.entries(options.overrides ?? {})) setPath(value, key, v);
  for (const entry of options.envTable) {
    const text = env[entry.env];
    if (text === undefined || text === "") continue;
    const parsed = parseEnv(text, entry.type);
    if (parsed === undefined) {
      problems.push(
        `${entry.key} (from ${entry.env}): must be ${entry.type === "integer" ? "an integer" : `a ${entry.type}`} (got ${JSON.stringify(text)})`,
      );
      continue;
    }
    setPath(value, entry.key, parsed);
  }
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  const validate = ajv.compile(options.schema);
  if (!validate(value)) {
    for (const error of validate.errors ?? []) {
      const at = error.instancePath.slice(1).replaceAll("/", ".");
      const under = (name: string) => (at ? `${at}.${name}` : name);
      if (error.keyword === "additionalProperties") {
        const params = error.params as { additionalProperty: string };
        problems.push(`${under(params.additionalProperty)}: unknown key`);
      } else if (error.keyword === "required") {
        const key = under((error.params as { missingProperty: string }).missingProperty);
        const env = options.envTable.find((entry) => entry.key === key)?.env;
        problems.push(`${key}: is required${env ? ` (set it in the config file or ${env})` : ""}`);
      } else {
        problems.push(
          `${at || "(root)"}: ${error.message ?? "invalid"} (got ${JSON.stringify(valueAt(value, at))})`,
        );
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(value) as Readonly<T>;
}

function parseEnv(text: string, type: EnvOverride["type"]): unknown {
  switch (type) {
    case "string":
      return text;
    case "integer":
      return /^-?\d+$/.test(text.trim()) ? Number(text) : undefined;
    case "number":
      return Number.isFinite(Number(text)) ? Number(text) : undefined;
    case "boolean":
      if (/^(1|true|yes|on)$/i.test(text)) return true;
      if (/^(0|false|no|off)$/i.test(text)) return false;
      return undefined;
    case "list":
      return text
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== "");
  }
}

function setPath(target: Record<string, unknown>, dotted: string, v: unknown): void {
  const keys = dotted.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = v;
}

function valueAt(target: unknown, dotted: string): unknown {
  if (!dotted) return target;
  let node = target;
  for (const key of dotted.split(".")) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
