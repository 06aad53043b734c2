/**
 * Child process for bench/broker.ts: the reading centre's embedded aedes broker alone, so that its
 * resident set and CPU time are its own. Prints one JSON line `{"port": N}` on stdout when listening;
 * stops on SIGTERM.
 *
 *   node bench/lib/aedes-child.ts   (env BENCH_INTERNAL_PASSWORD: the receiver's per-process secret;
 *                                    BENCH_BOX_SECRET: box passwords, see boxPassword)
 *
 * It is `startEmbeddedBroker` as `reading-centre/app.ts` runs it: the packet-size guard on every
 * connection and the broker ACL (per-box login, client id, own site's topics only). Only the box
 * directory differs: a plain comparison instead of the registry's scrypt hashes, which cost only at
 * CONNECT, outside the measured interval.
 */
import { createLogger } from "../../common/logger.ts";
import { startEmbeddedBroker } from "../../reading-centre/broker/broker.ts";
import { BENCH_COUNTY, boxPassword, INTERNAL_USERNAME } from "./mqtt-load.ts";

const password = process.env.BENCH_INTERNAL_PASSWORD;
const boxSecret = process.env.BENCH_BOX_SECRET;
if (!password || !boxSecret) throw new Error("BENCH_INTERNAL_PASSWORD and BENCH_BOX_SECRET must be set");

const log = createLogger({ name: "bench-aedes", level: "warn", destination: process.stderr });
const broker = await startEmbeddedBroker({
  host: "127.0.0.1",
  port: 0,
  countyId: BENCH_COUNTY,
  internal: { username: INTERNAL_USERNAME, password },
  boxes: {
    authenticate: async (siteId: string, given: string) => given === boxPassword(boxSecret, siteId),
    admitsCertificate: () => false,
  },
  log,
});
process.stdout.write(`${JSON.stringify({ port: broker.port })}\n`);
process.once("SIGTERM", () => {
  void broker.close().finally(() => process.exit(0));
});
