/**
 * Loads device profiles: the shipped ones (./profiles/*.json) and a site's own (a directory of
 * `*.json` files, one profile each). Every file is checked against the profile schema and its
 * protocol's settings schema; every problem is returned at once, named by file and field
 * (`ecg-cart.json: line.baudRate: must be integer (got "9600")`), so a start can be refused with the
 * whole list. A site profile with the id of a shipped one replaces it (e.g. another baud rate).
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Ajv } from "ajv";
import { type DeviceProfile, PROFILE_SCHEMA } from "./profile.ts";
import {
  describeSchemaError,
  findProtocol,
  SERIAL_PROTOCOLS,
  type SerialProtocol,
  validateProtocolSettings,
} from "./protocols.ts";

export const BUILTIN_PROFILES_DIR = join(import.meta.dirname, "profiles");

export interface LoadProfilesOptions {
  /** A site's profiles directory; absent or "" = shipped profiles only. */
  customDir?: string;
  protocols?: readonly SerialProtocol[];
  /** Tests point this elsewhere. */
  builtinDir?: string;
}

export interface LoadedProfiles {
  profiles: DeviceProfile[];
  /** Empty when every file is valid. */
  problems: string[];
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validateProfile = ajv.compile(PROFILE_SCHEMA);

export function loadProfiles(options: LoadProfilesOptions = {}): LoadedProfiles {
  const protocols = options.protocols ?? SERIAL_PROTOCOLS;
  const problems: string[] = [];
  const byId = new Map<string, DeviceProfile>();
  const builtin = readDirectory(options.builtinDir ?? BUILTIN_PROFILES_DIR, "builtin", protocols, problems);
  for (const profile of builtin) byId.set(profile.id, profile);
  if (options.customDir) {
    const custom = readDirectory(options.customDir, undefined, protocols, problems);
    const seen = new Set<string>();
    for (const profile of custom) {
      if (seen.has(profile.id)) {
        problems.push(
          `${basename(profile.origin)}: id: "${profile.id}" is used by another file in this directory`,
        );
        continue;
      }
      seen.add(profile.id);
      byId.set(profile.id, profile);
    }
  }
  return { profiles: [...byId.values()], problems };
}

function readDirectory(
  dir: string,
  origin: string | undefined,
  protocols: readonly SerialProtocol[],
  problems: string[],
): DeviceProfile[] {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((name) => name.endsWith(".json") && !name.startsWith("."))
      .sort();
  } catch (error) {
    problems.push(
      `${dir}: cannot read the profiles directory (${(error as NodeJS.ErrnoException).code ?? "error"})`,
    );
    return [];
  }
  const profiles: DeviceProfile[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const result = parseProfile(readFileSync(path, "utf8"), origin ?? path, protocols);
    if ("problems" in result) problems.push(...result.problems.map((problem) => `${name}: ${problem}`));
    else profiles.push(result.profile);
  }
  return profiles;
}

/** Parse and check one profile file's text. */
export function parseProfile(
  text: string,
  origin: string,
  protocols: readonly SerialProtocol[] = SERIAL_PROTOCOLS,
): { profile: DeviceProfile } | { problems: string[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problems: [`not valid JSON (${(error as Error).message})`] };
  }
  if (!validateProfile(value)) {
    return { problems: (validateProfile.errors ?? []).map((error) => describeSchemaError(error, value, "")) };
  }
  const raw = value as Omit<DeviceProfile, "origin"> & { $schema?: string };
  const protocol = findProtocol(raw.protocol, protocols);
  if (!protocol) {
    const known = protocols.map((p) => p.name).join(", ") || "none";
    return { problems: [`protocol: unknown protocol "${raw.protocol}" (known: ${known})`] };
  }
  const settings = validateProtocolSettings(protocol, raw.protocolSettings);
  if ("problems" in settings) return { problems: settings.problems };
  const { $schema: _schema, ...profile } = raw;
  return {
    profile: {
      ...profile,
      match: {
        ...(profile.match.usb
          ? {
              usb: profile.match.usb.map((usb) => ({
                ...usb,
                vendorId: usb.vendorId.toLowerCase(),
                productId: usb.productId.toLowerCase(),
              })),
            }
          : {}),
        ...(profile.match.paths ? { paths: profile.match.paths } : {}),
      },
      protocolSettings: settings.settings,
      origin,
    },
  };
}
