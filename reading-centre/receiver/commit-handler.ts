/**
 * `up/commit`: the box has sent every chunk of a transfer it had to send. The reading centre checks
 * the box's signature, verifies and stores what it can, records the study durably, and only then
 * answers with a `commit-ack` listing what it holds; the box deletes nothing it has not seen in
 * `stored`.
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
import { DEFAULT_INGEST_OPTIONS, type IngestOptions, ingestTransfer } from "./ingest.ts";
import { checkSignature } from "./signature-policy.ts";

const REMEMBERED_ACKS = 1000;

export function commitHandler(ctx: ReceiverContext, options: Partial<IngestOptions> = {}): UpHandler {
  const ingestOptions: IngestOptions = { ...DEFAULT_INGEST_OPTIONS, ...options };
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
    const signature = checkSignature(ctx, site, "commit", commit);
    if (signature) return answer(site, errorAck(commit, signature.code, signature.message, [], []));

    const key = `${site.siteId}/${commit.transferId}`;
    const transfer = await ctx.staging.read(site.siteId, commit.transferId);
    if (!transfer) {
      const remembered = completed.get(key);
      if (remembered) return answer(site, { ...remembered, sentAt: new Date().toISOString() });
      const holder = await ctx.staging.siteHolding(site.siteId, commit.transferId);
      if (holder !== undefined) {
        ctx.log.warn(
          { siteId: site.siteId, transferId: commit.transferId, code: "CROSS_SITE", otherSiteId: holder },
          "commit refused",
        );
      }
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
    const all = transfer.manifest.instances.map((i) => i.sopInstanceUid);
    if (commit.studyInstanceUid !== transfer.manifest.study.studyInstanceUid) {
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
    if (commit.manifestSha256 !== undefined && commit.manifestSha256 !== transfer.manifestSha256) {
      return answer(
        site,
        errorAck(
          commit,
          COMMIT_ERRORS.COMMIT_MISMATCH,
          "commit closes another manifest than the one received for this transfer",
          [],
          all,
        ),
      );
    }

    const { stored, missing } = await ingestTransfer(ctx, transfer, ingestOptions);
    if (missing.length > 0) {
      // Staged chunks stay: the box's next attempt is told what is held and resends only the rest.
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
    await ctx.staging.removeTransfer(transfer);
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
