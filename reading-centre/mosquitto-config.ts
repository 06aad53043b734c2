/**
 * `npm run mosquitto-config -- [--config FILE] [--data-dir DIR] [--county ID] --out DIR
 *   [--receiver-user NAME] [--receiver-password-env VAR]`
 *
 * Writes an external Mosquitto's `passwd` (mode 0600) and `acl` files into DIR from the county's box
 * registry (`<dataDir>/boxes.json`; reading-centre/broker/mosquitto-config.ts has the rules). The
 * reading centre's own user is added when VAR names an environment variable holding its password
 * (never an argument: `ps` shows those). Each file is replaced atomically, so a broker reloading
 * (SIGHUP) meanwhile reads the old or the new one, never half. Run it again after every add-box or
 * disable-box, then `kill -HUP` the broker.
 *
 * Prints one JSON line: the paths and which boxes went where. Exit codes as the reading centre's:
 * 64 bad usage, 78 invalid configuration, 1 anything else.
 */
import { chmod, mkdir, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  generateMosquittoFiles,
  mosquittoPasswordHash,
  RECEIVER_USERNAME,
  readBoxRegistry,
} from "./broker/mosquitto-config.ts";
import { loadReadingCentreConfig } from "./config.ts";

const USAGE =
  "usage: mosquitto-config.ts [--config FILE] [--data-dir DIR] [--county ID] --out DIR " +
  "[--receiver-user NAME] [--receiver-password-env VAR]";

class UsageError extends Error {}

interface Args {
  config?: string;
  dataDir?: string;
  county?: string;
  out: string;
  receiverUser: string;
  receiverPasswordEnv?: string;
}

export function parseArgs(argv: readonly string[]): Args {
  const values: Record<string, string> = {};
  const names = ["config", "data-dir", "county", "out", "receiver-user", "receiver-password-env"];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") ? arg.slice(2, eq > 0 ? eq : undefined) : "";
    if (!names.includes(name)) throw new UsageError(`unexpected argument ${arg}. ${USAGE}`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === "") throw new UsageError(`--${name} needs a value. ${USAGE}`);
    values[name] = value;
  }
  if (values.out === undefined) throw new UsageError(`--out is required. ${USAGE}`);
  return {
    out: values.out,
    receiverUser: values["receiver-user"] ?? RECEIVER_USERNAME,
    ...(values.config === undefined ? {} : { config: values.config }),
    ...(values["data-dir"] === undefined ? {} : { dataDir: values["data-dir"] }),
    ...(values.county === undefined ? {} : { county: values.county }),
    ...(values["receiver-password-env"] === undefined
      ? {}
      : { receiverPasswordEnv: values["receiver-password-env"] }),
  };
}

async function replaceFile(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode });
  await chmod(temporary, mode);
  await rename(temporary, path);
}

export async function run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const args = parseArgs(argv);
  const overrides: Record<string, unknown> = {};
  if (args.dataDir !== undefined) overrides.dataDir = args.dataDir;
  if (args.county !== undefined) overrides.countyId = args.county;
  const config = loadReadingCentreConfig({ file: args.config ?? env.DXGATE_RC_CONFIG, env, overrides });
  let passwordHash: string | undefined;
  if (args.receiverPasswordEnv !== undefined) {
    const password = env[args.receiverPasswordEnv];
    if (!password) throw new UsageError(`environment variable ${args.receiverPasswordEnv} is empty or unset`);
    passwordHash = mosquittoPasswordHash(password);
  }
  const files = generateMosquittoFiles({
    countyId: config.countyId,
    registry: await readBoxRegistry(config.dataDir),
    receiver: { username: args.receiverUser, ...(passwordHash === undefined ? {} : { passwordHash }) },
  });
  const out = resolve(args.out);
  await mkdir(out, { recursive: true });
  const passwordFile = join(out, "passwd");
  const aclFile = join(out, "acl");
  await replaceFile(passwordFile, files.passwords, 0o600);
  await replaceFile(aclFile, files.acl, 0o644);
  return {
    passwordFile,
    aclFile,
    countyId: config.countyId,
    receiverUser: passwordHash === undefined ? null : args.receiverUser,
    boxes: files.boxes,
    certificateOnly: files.certificateOnly,
    disabled: files.disabled,
  };
}

async function main(): Promise<void> {
  try {
    const result = await run(process.argv.slice(2), process.env);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    const certificateOnly = result.certificateOnly as string[];
    if (certificateOnly.length > 0) {
      process.stderr.write(
        `mosquitto-config: no Mosquitto password hash for ${certificateOnly.join(", ")} ` +
          "(they can log in with a certificate only); rotate with add-box to add one\n",
      );
    }
    if (result.receiverUser === null) {
      process.stderr.write(
        "mosquitto-config: no receiver user written (give --receiver-password-env VAR to add one)\n",
      );
    }
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    process.stderr.write(`mosquitto-config: ${(error as Error).message}\n`);
    process.exitCode = error instanceof UsageError ? 64 : code === "CONFIG_INVALID" ? 78 : 1;
  }
}

if (import.meta.main) await main();
