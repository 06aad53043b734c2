/**
 * The reading-centre process: `node reading-centre/main.ts [--config FILE]` runs the service (the
 * file may also be named by DXGATE_RC_CONFIG); `node reading-centre/main.ts [--config FILE] add-user
 * USERNAME` creates or updates a diagnostician account, the password taken from
 * DXGATE_RC_NEW_PASSWORD (never from argv, which `ps` shows).
 *
 * Logs are JSON lines on stdout. Exit codes (sysexits(3), so systemd and scripts can tell "fix the
 * config" from a crash): 0 stopped cleanly, 1 failed while starting or running, 64 bad usage,
 * 78 invalid configuration or an account still using the demo password outside demo mode.
 */
import { DxgateError } from "../common/errors.ts";
import { createLogger, type Logger } from "../common/logger.ts";
import { createReadingCentre } from "./app.ts";
import { DEMO_USER, UserStore } from "./auth/users.ts";
import { loadReadingCentreConfig, type ReadingCentreConfig } from "./config.ts";
import { rcError } from "./errors.ts";

const USAGE = "usage: main.ts [--config FILE] [add-user USERNAME]";
const LEVELS = new Set(["trace", "debug", "info", "warn", "error", "fatal", "silent"]);
const MIN_PASSWORD_LENGTH = 8;
const EXIT_USAGE = 64;
const EXIT_CONFIG = 78;
const EXIT_CODES: Readonly<Record<string, number>> = {
  USAGE: EXIT_USAGE,
  USER_INVALID: EXIT_USAGE,
  CONFIG_INVALID: EXIT_CONFIG,
  DEFAULT_PASSWORD: EXIT_CONFIG,
};

interface Args {
  configFile: string | undefined;
  command: { name: "serve" } | { name: "add-user"; username: string };
}

export function parseArgs(argv: readonly string[]): Args {
  let configFile: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--config") {
      configFile = argv[++i];
      if (configFile === undefined) throw rcError("USAGE", `--config needs a file. ${USAGE}`);
    } else if (arg.startsWith("--config=")) {
      configFile = arg.slice("--config=".length);
    } else if (arg.startsWith("-")) {
      throw rcError("USAGE", `unknown option ${arg}. ${USAGE}`);
    } else {
      rest.push(arg);
    }
  }
  if (rest.length === 0) return { configFile, command: { name: "serve" } };
  if (rest[0] === "add-user" && rest.length === 2) {
    return { configFile, command: { name: "add-user", username: rest[1]! } };
  }
  throw rcError("USAGE", `unexpected arguments: ${rest.join(" ")}. ${USAGE}`);
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
