/**
 * The study life cycle at the box. Every transition is stamped with its time: these stamps are the
 * turnaround figures the technician page and the county's targets are built from.
 *
 *   received → stored → queued → uploading → delivered → reported
 *                          ↑__________|  (an attempt failed: back to the queue)
 * A new instance for a study already past `stored` re-opens it (→ received), so it is sent again;
 * the reading centre stores idempotently, so nothing arrives twice.
 */
export const STUDY_STATES = ["received", "stored", "queued", "uploading", "delivered", "reported"] as const;
export type StudyState = (typeof STUDY_STATES)[number];

const ALLOWED: Readonly<Record<StudyState, readonly StudyState[]>> = Object.freeze({
  received: ["stored"],
  stored: ["queued", "received"],
  queued: ["uploading", "received"],
  uploading: ["delivered", "queued", "received"],
  delivered: ["reported", "received"],
  reported: ["received"],
});

export interface Transition {
  state: StudyState;
  at: string;
}

export interface Stateful {
  state: StudyState;
  /** Time the study last entered each state (ISO 8601). */
  transitions: Partial<Record<StudyState, string>>;
  /** Every transition in order (bounded, see HISTORY_LIMIT). */
  history: Transition[];
}

const HISTORY_LIMIT = 100;

export class InvalidTransitionError extends Error {
  constructor(from: StudyState, to: StudyState) {
    super(`study cannot go from ${from} to ${to}`);
    this.name = "InvalidTransitionError";
  }
}

export function canTransition(from: StudyState, to: StudyState): boolean {
  return ALLOWED[from].includes(to);
}

/** Move `study` to `to`, stamping the time; throws on a transition the life cycle does not allow. */
export function transition(study: Stateful, to: StudyState, at: Date = new Date()): void {
  if (!canTransition(study.state, to)) throw new InvalidTransitionError(study.state, to);
  const stamp = at.toISOString();
  study.state = to;
  study.transitions[to] = stamp;
  study.history.push({ state: to, at: stamp });
  if (study.history.length > HISTORY_LIMIT) study.history.splice(0, study.history.length - HISTORY_LIMIT);
}

/** A fresh life cycle starting in `received`. */
export function initialState(at: Date = new Date()): Stateful {
  const stamp = at.toISOString();
  return { state: "received", transitions: { received: stamp }, history: [{ state: "received", at: stamp }] };
}
