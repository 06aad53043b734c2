/**
 * The gateway process: configuration, logger, signals and exit codes. No domain logic here.
 *   npm run gateway [-- --config FILE]      (or DXGATE_CONFIG=FILE)
 */
import { parseArgs } from "node:util";
import { ConfigError } from "../common/config-loader.ts";
import { createLogger } from "../common/logger.ts";
import { createGateway } from "./app.ts";
import { loadGatewayConfig } from "./config.ts";

/** sysexits(3) EX_CONFIG: systemd and scripts can tell "fix the config" from a crash. */
const EXIT_CONFIG = 78;

const { values } = parseArgs({ options: { config: { type: "string" } }, allowPositionals: false });

let config: ReturnType<typeof loadGatewayConfig>;
try {
  config = loadGatewayConfig({ file: values.config ?? process.env.DXGATE_CONFIG });
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`dxgate gateway: refusing to start, ${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  throw error;
}

const log = createLogger({ name: "dxgate-gateway", level: config.log.level });
let gateway: ReturnType<typeof createGateway>;
try {
  gateway = createGateway(config, { log });
} catch (error) {
  // The broker's certificate or key files (checked at load) may have gone or changed since.
  if (error instanceof ConfigError) {
    process.stderr.write(`dxgate gateway: refusing to start, ${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  throw error;
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "stopping");
  try {
    await gateway.stop();
    log.info({}, "stopped");
    process.exit(0);
  } catch (error) {
    log.error({ err: error }, "stop failed");
    process.exit(1);
  }
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("uncaughtException", (error) => {
  log.error({ err: error }, "uncaught exception; exiting so the supervisor restarts us");
  process.exit(1);
});

try {
  const ports = await gateway.start();
  log.info({ siteId: config.siteId, ...ports }, "gateway started");
} catch (error) {
  log.error({ err: error }, "gateway failed to start");
  process.exit(1);
}
