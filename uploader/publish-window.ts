/**
 * A bounded set of QoS 1 publishes awaiting PUBACK. The sender reads the next chunk from disk only
 * when a slot is free, so at most `size` chunks are held in memory (by us and by mqtt.js's outgoing
 * store, which keeps each one until its PUBACK [MQTT-4.3.2-2]) however large the instance is.
 */
export class PublishWindow {
  readonly #size: number;
  readonly #inFlight = new Set<Promise<void>>();
  #failure: { error: unknown } | undefined;

  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size < 1)
      throw new RangeError(`window must be an integer >= 1, got ${size}`);
    this.#size = size;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Wait for a free slot, then start `publish`. Throws the first failure of any earlier publish, so a
   * lost connection stops the transfer at the next chunk instead of after the whole file.
   */
  async add(publish: () => Promise<void>): Promise<void> {
    while (this.#inFlight.size >= this.#size && !this.#failure) await Promise.race(this.#inFlight);
    this.#throwIfFailed();
    // The tracked promise never rejects: the error is kept and rethrown by add/drain, so an abandoned
    // window cannot cause an unhandled rejection.
    const tracked: Promise<void> = publish().then(
      () => {
        this.#inFlight.delete(tracked);
      },
      (error: unknown) => {
        this.#inFlight.delete(tracked);
        this.#failure ??= { error };
      },
    );
    this.#inFlight.add(tracked);
  }

  /** Wait until every publish started so far is acknowledged; throws the first failure. */
  async drain(): Promise<void> {
    await Promise.all(this.#inFlight);
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }
}
