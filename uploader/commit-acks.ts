/**
 * Matches incoming commit-acks to the transfer waiting for them, by transferId. An ack for a
 * transfer nobody waits for (an earlier attempt, a re-sent commit, another box's confusion) is
 * dropped: only the attempt that sent the commit may move a study out of the queue.
 */
import type { CommitAckMessage } from "./protocol/index.ts";

interface Pending {
  studyInstanceUid: string;
  resolve: (ack: CommitAckMessage) => void;
}

export interface ExpectedAck {
  /** Resolves with the ack; never rejects (timeouts and aborts are the waiter's business). */
  readonly promise: Promise<CommitAckMessage>;
  /** Stop waiting; a later ack for this transfer is then ignored. */
  cancel(): void;
}

export class CommitAckRegistry {
  readonly #pending = new Map<string, Pending>();

  /** Register before publishing the manifest, so even an early ack finds its waiter. */
  expect(transferId: string, studyInstanceUid: string): ExpectedAck {
    let resolve!: (ack: CommitAckMessage) => void;
    const promise = new Promise<CommitAckMessage>((r) => {
      resolve = r;
    });
    this.#pending.set(transferId, { studyInstanceUid, resolve });
    return { promise, cancel: () => this.#pending.delete(transferId) };
  }

  /** Hand an ack to its waiter; false when no live transfer of that study matches it. */
  deliver(ack: CommitAckMessage): boolean {
    const pending = this.#pending.get(ack.transferId);
    if (!pending || pending.studyInstanceUid !== ack.studyInstanceUid) return false;
    this.#pending.delete(ack.transferId);
    pending.resolve(ack);
    return true;
  }

  get size(): number {
    return this.#pending.size;
  }
}
