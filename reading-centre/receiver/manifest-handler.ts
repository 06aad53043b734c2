/**
 * `up/manifest`: a box announces a transfer (one upload attempt of one study). The manifest is made
 * durable in staging before the MQTT message is acknowledged, so chunks that follow have a home
 * even across a restart of the reading centre.
 */
import { decodeJsonMessage, ProtocolError } from "../../uploader/protocol/index.ts";
import type { ReceiverContext, UpHandler } from "./context.ts";

export function manifestHandler(ctx: ReceiverContext): UpHandler {
  return async (site, payload) => {
    const manifest = decodeJsonMessage(payload, "manifest");
    const uids = new Set(manifest.instances.map((i) => i.sopInstanceUid));
    if (uids.size !== manifest.instances.length) {
      throw new ProtocolError("PROTO_INVALID", "manifest lists an instance twice");
    }
    const outcome = await ctx.staging.begin(site.siteId, manifest);
    ctx.log.info(
      {
        siteId: site.siteId,
        transferId: manifest.transferId,
        studyInstanceUid: manifest.study.studyInstanceUid,
        instances: manifest.instances.length,
        bytes: manifest.instances.reduce((sum, i) => sum + i.size, 0),
        outcome,
      },
      "transfer started",
    );
  };
}
