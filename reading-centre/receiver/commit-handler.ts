/**
 * `up/commit`: the box has sent every chunk of a transfer. The reading centre verifies and stores
 * what it can, records the study durably, and only then answers with a `commit-ack` listing what it
 * holds; the box deletes nothing it has not seen in `stored`.
 *
 * Acks of recently completed transfers are remembered, so a commit redelivered by MQTT (QoS 1 is
 * at-least-once, MQTT 3.1.1 §4.3.2) is answered the same way instead of as an unknown transfer.
 */
import {
  type CommitAckMessage,
  type CommitMessage,
  decodeJsonMessage,
  type SiteAddress,
} from "../../uploader/protocol/index.ts";
import { COMMIT_ERRORS } from "../errors.ts";
import type { ReceiverContext, UpHandler } from "./context.ts";
import { ingestTransfer } from "./ingest.ts";

const REMEMBERED_ACKS = 1000;

export function commitHandler(ctx: ReceiverContext): UpHandler {
  const completed = new Map<string, CommitAckMessage>();

  function answer(site: SiteAddress, ack: CommitAckMessage): void {
    const sent = ctx.downlink.publish(site, "commit-ack", ack);
    ctx.log.info(
      {
        siteId: site.siteId,
        transferId: ack.transferId,
        studyInstanceUid: ack.studyInstanceUid,
        status: ack.status,
        code: ack.error?.code,
        stored: ack.stored.length,
        missing: ack.missing.length,
        sent,
      },
      "commit answered",
    );
  }

  return async (site, payload) => {
    const commit = decodeJsonMessage(payload, "commit");
    const key = `${site.siteId}/${commit.transferId}`;
    const transfer = ctx.staging.get(site.siteId, commit.transferId);
    if (!transfer) {
      const remembered = completed.get(key);
      if (remembered) return answer(site, { ...remembered, sentAt: new Date().toISOString() });
      return answer(
        site,
        errorAck(
          commit,
          COMMIT_ERRORS.UNKNOWN_TRANSFER,
          "no manifest was received for this transfer",
          [],
          [],
        ),
      );
    }
    if (commit.studyInstanceUid !== transfer.manifest.study.studyInstanceUid) {
      const all = transfer.manifest.instances.map((i) => i.sopInstanceUid);
      return answer(
        site,
        errorAck(
          commit,
          COMMIT_ERRORS.COMMIT_MISMATCH,
          "commit names another study than its manifest",
          [],
          all,
        ),
      );
    }

    const { stored, missing } = await ingestTransfer(ctx, transfer);
    if (missing.length > 0) {
      // Staging stays: the box resends in a new transfer, and the sweep removes this one later.
      return answer(
        site,
        errorAck(
          commit,
          COMMIT_ERRORS.INCOMPLETE,
          `${missing.length} instance(s) missing or failed verification`,
          stored,
          missing,
        ),
      );
    }
    const ack: CommitAckMessage = {
      v: 1,
      type: "commit-ack",
      sentAt: new Date().toISOString(),
      transferId: commit.transferId,
      studyInstanceUid: commit.studyInstanceUid,
      status: "ok",
      stored,
      missing: [],
    };
    await ctx.staging.remove(transfer);
    completed.set(key, ack);
    if (completed.size > REMEMBERED_ACKS) completed.delete(completed.keys().next().value!);
    answer(site, ack);
  };
}

function errorAck(
  commit: CommitMessage,
  code: string,
  message: string,
  stored: string[],
  missing: string[],
): CommitAckMessage {
  return {
    v: 1,
    type: "commit-ack",
    sentAt: new Date().toISOString(),
    transferId: commit.transferId,
    studyInstanceUid: commit.studyInstanceUid,
    status: "error",
    stored,
    missing,
    error: { code, message },
  };
}
