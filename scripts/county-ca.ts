/**
 * The county's certificate authority (openssl CLI underneath; reading-centre/boxes/county-ca.ts):
 *
 *   npm run county-ca -- init                     create the CA (kept if it exists)
 *   npm run county-ca -- server HOST [HOST...]    the broker's TLS certificate (SAN per host/IP)
 *   npm run county-ca -- box SITE [--out DIR]     a box's client certificate (CN = SITE)
 *
 * Options: `--dir DIR` (the PKI directory; default `<dataDir>/pki` of the reading centre's
 * configuration), `--config FILE` (that configuration; DXGATE_RC_CONFIG and the DXGATE_RC_* variables
 * apply as for the service). `add-box` issues a box certificate itself whenever the CA exists, and
 * records it so only that one is admitted; `box` here is for a box the registry does not track a
 * certificate of. Prints one JSON line with the paths; exit 64 on bad usage, 1 on failure.
 */
import { join, resolve } from "node:path";
import { DxgateError } from "../common/errors.ts";
import { initCa, issueBox, issueServer } from "../reading-centre/boxes/county-ca.ts";
import { checkSiteId } from "../reading-centre/boxes/registry.ts";
import { loadReadingCentreConfig } from "../reading-centre/config.ts";

const USAGE =
  "usage: county-ca.ts [--dir PKI_DIR] [--config FILE] init | server HOST [HOST...] | box SITE [--out DIR]";

interface Args {
  dir?: string;
  config?: string;
  out?: string;
  command: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { command: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--dir" || arg === "--config" || arg === "--out") {
      const value = argv[++i];
      if (!value) throw new DxgateError("USAGE", `${arg} needs a value. ${USAGE}`);
      args[arg.slice(2) as "dir" | "config" | "out"] = value;
    } else if (arg.startsWith("-")) {
      throw new DxgateError("USAGE", `unknown option ${arg}. ${USAGE}`);
    } else {
      args.command.push(arg);
    }
  }
  return args;
}

async function main(argv: readonly string[]): Promise<unknown> {
  const args = parseArgs(argv);
  const config = loadReadingCentreConfig({ file: args.config ?? process.env.DXGATE_RC_CONFIG });
  const dir = resolve(args.dir ?? join(config.dataDir, "pki"));
  const [command, ...operands] = args.command;
  if (command === "init" && operands.length === 0) {
    const { created, paths } = await initCa(dir, config.countyId);
    return { created, caCert: paths.caCert, caKey: paths.caKey };
  }
  if (command === "server" && operands.length > 0) {
    const paths = await issueServer(dir, config.countyId, operands);
    return { cert: paths.serverCert, key: paths.serverKey, ca: paths.caCert, hosts: operands };
  }
  if (command === "box" && operands.length === 1) {
    const siteId = operands[0]!;
    checkSiteId(siteId);
    const out = resolve(args.out ?? join(dir, "boxes", siteId));
    const issued = await issueBox(dir, config.countyId, siteId, out);
    return { siteId, cert: issued.cert, key: issued.key, ...issued.certificate };
  }
  throw new DxgateError(
    "USAGE",
    `${args.command.length ? `unexpected arguments: ${args.command.join(" ")}. ` : ""}${USAGE}`,
  );
}

if (import.meta.main) {
  try {
    const result = await main(process.argv.slice(2));
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (error) {
    const coded = error instanceof DxgateError;
    process.stderr.write(`county-ca: ${(error as Error).message}\n`);
    process.exitCode = coded && (error.code === "USAGE" || error.code === "BOX_INVALID") ? 64 : 1;
  }
}
