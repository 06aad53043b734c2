/**
 * The reading-centre process: `node reading-centre/main.ts [--config FILE]` runs the service (the
 * file may also be named by DXGATE_RC_CONFIG). Admin commands, run beside the service on the same
 * configuration:
 * - `add-user USERNAME` creates or updates a diagnostician account, the password taken from
 *   DXGATE_RC_NEW_PASSWORD (never from argv, which `ps` shows);
 * - `add-box SITE [--out DIR] [--broker-url URL]` creates or rotates a box's credentials and writes
 *   them for the box (boxes/provision.ts); prints one JSON line with the paths, never the password;
 * - `disable-box SITE` refuses the box from now on.
 * The running service picks up box changes on its own (no restart).
 *
 * Logs are JSON lines on stdout. Exit codes (sysexits(3), so systemd and scripts can tell "fix the
 * config" from a crash): 0 stopped cleanly, 1 failed while starting or running, 64 bad usage,
 * 78 invalid configuration or an account still using the demo password outside demo mode.
 */
import { DxgateError } from "../common/errors.ts";
import { createLogger, type Logger } from "../common/logger.ts";
import { createReadingCentre } from "./app.ts";
import { DEMO_USER, UserStore } from "./auth/users.ts";
import { provisionBox } from "./boxes/provision.ts";
import { BoxRegistry } from "./boxes/registry.ts";
import { loadReadingCentreConfig, type ReadingCentreConfig } from "./config.ts";
import { rcError } from "./errors.ts";

const USAGE =
  "usage: main.ts [--config FILE] [add-user USERNAME | add-box SITE [--out DIR] [--broker-url URL] | disable-box SITE]";
const LEVELS = new Set(["trace", "debug", "info", "warn", "error", "fatal", "silent"]);
const MIN_PASSWORD_LENGTH = 8;
const EXIT_USAGE = 64;
const EXIT_CONFIG = 78;
const EXIT_CODES: Readonly<Record<string, number>> = {
  USAGE: EXIT_USAGE,
  USER_INVALID: EXIT_USAGE,
  BOX_INVALID: EXIT_USAGE,
  BOX_UNKNOWN: EXIT_USAGE,
  BOXES_INVALID: EXIT_CONFIG,
  CONFIG_INVALID: EXIT_CONFIG,
  DEFAULT_PASSWORD: EXIT_CONFIG,
};

interface Args {
  configFile: string | undefined;
  command:
    | { name: "serve" }
    | { name: "add-user"; username: string }
    | { name: "add-box"; siteId: string; outDir?: string; brokerUrl?: string }
    | { name: "disable-box"; siteId: string };
}

/** Options that take a value; `--out` and `--broker-url` belong to add-box only. */
const VALUE_OPTIONS = new Set(["--config", "--out", "--broker-url"]);

export function parseArgs(argv: readonly string[]): Args {
  const options = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    if (VALUE_OPTIONS.has(name)) {
      const value = eq > 0 && name !== arg ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === "") throw rcError("USAGE", `${name} needs a value. ${USAGE}`);
      options.set(name, value);
    } else if (arg.startsWith("-")) {
      throw rcError("USAGE", `unknown option ${arg}. ${USAGE}`);
    } else {
      rest.push(arg);
    }
  }
  const configFile = options.get("--config");
  const command = parseCommand(rest);
  const boxOptions = ["--out", "--broker-url"].filter((o) => options.has(o));
  if (command.name !== "add-box" && boxOptions.length > 0) {
    throw rcError("USAGE", `${boxOptions.join(", ")} only go with add-box. ${USAGE}`);
  }
  if (command.name === "add-box") {
    const outDir = options.get("--out");
    const brokerUrl = options.get("--broker-url");
    return {
      configFile,
      command: { ...command, ...(outDir ? { outDir } : {}), ...(brokerUrl ? { brokerUrl } : {}) },
    };
  }
  return { configFile, command };
}

function parseCommand(rest: string[]): Args["command"] {
  if (rest.length === 0) return { name: "serve" };
  const [name, operand] = rest;
  if (rest.length === 2 && name === "add-user") return { name, username: operand! };
  if (rest.length === 2 && (name === "add-box" || name === "disable-box")) return { name, siteId: operand! };
  throw rcError("USAGE", `unexpected arguments: ${rest.join(" ")}. ${USAGE}`);
}

/** add-box: the result for scripts on stdout (one JSON line), a sentence for the admin on stderr. */
async function addBox(
  config: Readonly<ReadingCentreConfig>,
  command: { siteId: string; outDir?: string; brokerUrl?: string },
): Promise<void> {
  const result = await provisionBox(config, command.siteId, command);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.stderr.write(
    `box ${result.siteId} ${result.created ? "created" : "credentials rotated (the old ones no longer work)"}: ` +
      `copy ${result.dir} to the box and load ${result.env} into the gateway's environment` +
      `${result.cert ? " (client certificate included)" : " (no county CA: password only)"}; ` +
      `it connects to ${result.brokerUrl} as client id ${result.clientId}\n`,
  );
}

async function disableBox(config: Readonly<ReadingCentreConfig>, siteId: string): Promise<void> {
  await BoxRegistry.open(config.dataDir).disable(siteId);
  process.stdout.write(`${JSON.stringify({ siteId, disabled: true })}\n`);
  process.stderr.write(`box ${siteId} disabled: refused at login and its signatures no longer verify\n`);
}

async function addUser(config: Readonly<ReadingCentreConfig>, username: string, log: Logger): Promise<void> {
  const password = process.env.DXGATE_RC_NEW_PASSWORD;
  if (!password) throw rcError("USAGE", "set the new password in the environment: DXGATE_RC_NEW_PASSWORD");
  if (!config.demo && (password === DEMO_USER.password || password.length < MIN_PASSWORD_LENGTH)) {
    throw rcError(
      "USER_INVALID",
      `the password must have at least ${MIN_PASSWORD_LENGTH} characters and not be "demo"`,
      {
        field: "password",
      },
    );
  }
  const users = await UserStore.open(config.dataDir);
  const outcome = await users.setPassword(username, password);
  log.info({ username, outcome }, `user ${outcome}`);
}

async function serve(config: Readonly<ReadingCentreConfig>, log: Logger): Promise<void> {
  const app = createReadingCentre(config, { log });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, "stopping");
    app.stop().then(
      () => exitSoon(0),
      (error: unknown) => {
        log.error({ err: error }, "stop failed");
        exitSoon(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("uncaughtException", (error) => {
    log.error({ err: error }, "uncaught exception; exiting so the supervisor restarts us");
    process.exit(1);
  });
  await app.start();
}

/** Let the event loop drain (the last log lines reach a piped stdout), but do not hang on a straggler. */
function exitSoon(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 1000).unref();
}

async function main(): Promise<void> {
  const envLevel = process.env.DXGATE_LOG_LEVEL ?? "info";
  let log = createLogger({ name: "dxgate-reading-centre", level: LEVELS.has(envLevel) ? envLevel : "info" });
  try {
    const args = parseArgs(process.argv.slice(2));
    const config = loadReadingCentreConfig({ file: args.configFile ?? process.env.DXGATE_RC_CONFIG });
    log = createLogger({ name: "dxgate-reading-centre", level: config.log.level });
    if (args.command.name === "add-user") {
      await addUser(config, args.command.username, log);
      return;
    }
    if (args.command.name === "add-box") {
      await addBox(config, args.command);
      return;
    }
    if (args.command.name === "disable-box") {
      await disableBox(config, args.command.siteId);
      return;
    }
    await serve(config, log);
  } catch (error) {
    const coded = error instanceof DxgateError;
    const code = coded ? error.code : "INTERNAL";
    log.error(
      { code, details: coded ? error.details : undefined, err: coded ? undefined : error },
      coded ? error.message : "reading centre failed",
    );
    // Config and usage errors are for a person at a terminal too, not only for the log collector.
    if (coded) process.stderr.write(`dxgate-reading-centre: ${error.message}\n`);
    process.exitCode = EXIT_CODES[code] ?? 1;
  }
}

if (import.meta.main) await main();
