/**
 * Slow-loris guard for one association: while it is the peer's turn, the peer must complete a PDU
 * within `timeoutMs` of the previous one (PS3.8 9.1.5 leaves idle time to the implementation).
 * That bounds both silence between PDUs and a PDU trickled byte by byte. The clock stops while it is
 * our turn — a C-STORE being stored, a response owed, the socket paused for a slow disk — since the
 * peer is then rightly waiting for us.
 */
export class AssociationWatchdog {
  readonly #timeoutMs: number;
  readonly #onExpired: () => void;
  #timer: NodeJS.Timeout | undefined;
  #holds = 0;
  #stopped = false;

  constructor(timeoutMs: number, onExpired: () => void) {
    this.#timeoutMs = timeoutMs;
    this.#onExpired = onExpired;
    this.#arm();
  }

  /** The peer completed a PDU: it has another `timeoutMs` for the next. */
  progress(): void {
    if (this.#holds === 0) this.#arm();
  }

  /** Our turn begins; the returned function ends it (idempotent). Holds nest. */
  hold(): () => void {
    this.#holds += 1;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds -= 1;
      if (this.#holds === 0) this.#arm();
    };
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#stopped) return;
    if (this.#timer) {
      this.#timer.refresh();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#stopped && this.#holds === 0) this.#onExpired();
    }, this.#timeoutMs);
    this.#timer.unref();
  }
}
