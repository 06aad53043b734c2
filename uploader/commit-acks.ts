/**
 * Matches incoming acks (manifest-ack and commit-ack) to the transfer waiting for them, by
 * transferId. An ack for a transfer nobody waits for (an earlier attempt, a re-sent commit, another
 * box's confusion) is dropped: only the attempt that sent the manifest may act on its manifest-ack,
 * and only the attempt that sent the commit may move a study out of the queue.
 */
import type { CommitAckMessage, ManifestAckMessage } from "./protocol/index.ts";

interface Pending {
  studyInstanceUid: string;
  resolveManifestAck: (ack: ManifestAckMessage) => void;
  resolveCommitAck: (ack: CommitAckMessage) => void;
  /** A manifest-ack is taken once: a duplicate (re-delivered after a reconnect) is ignored. */
  manifestAcked: boolean;
}

export interface ExpectedAck {
  /** Resolves with the commit-ack; never rejects (timeouts and aborts are the waiter's business). */
  readonly promise: Promise<CommitAckMessage>;
  /** Resolves with the manifest-ack; never rejects. An older county never sends one. */
  readonly manifestAck: Promise<ManifestAckMessage>;
  /** Stop waiting; later acks for this transfer are then ignored. */
  cancel(): void;
}

export class CommitAckRegistry {
  readonly #pending = new Map<string, Pending>();
  #manifestAckTimeouts = 0;

  /** Register before publishing the manifest, so even an early ack finds its waiter. */
  expect(transferId: string, studyInstanceUid: string): ExpectedAck {
    let resolveCommitAck!: (ack: CommitAckMessage) => void;
    let resolveManifestAck!: (ack: ManifestAckMessage) => void;
    const promise = new Promise<CommitAckMessage>((r) => {
      resolveCommitAck = r;
    });
    const manifestAck = new Promise<ManifestAckMessage>((r) => {
      resolveManifestAck = r;
    });
    const pending: Pending = { studyInstanceUid, resolveCommitAck, resolveManifestAck, manifestAcked: false };
    this.#pending.set(transferId, pending);
    return {
      promise,
      manifestAck,
      cancel: () => {
        if (this.#pending.get(transferId) === pending) this.#pending.delete(transferId);
      },
    };
  }

  /** Hand an ack to its waiter; false when no live transfer of that study waits for it. */
  deliver(ack: CommitAckMessage | ManifestAckMessage): boolean {
    const pending = this.#pending.get(ack.transferId);
    if (!pending || pending.studyInstanceUid !== ack.studyInstanceUid) return false;
    if (ack.type === "manifest-ack") {
      if (pending.manifestAcked) return false;
      pending.manifestAcked = true;
      pending.resolveManifestAck(ack);
      return true;
    }
    this.#pending.delete(ack.transferId);
    pending.resolveCommitAck(ack);
    return true;
  }

  /**
   * Count a manifest-ack that never came; true the first time, so an older county (which never
   * answers) is warned about once per uploader, not once per study.
   */
  noteManifestAckTimeout(): boolean {
    this.#manifestAckTimeouts += 1;
    return this.#manifestAckTimeouts === 1;
  }

  get size(): number {
    return this.#pending.size;
  }
}
