import assert from "node:assert/strict";
import { test } from "node:test";
import {
  canTransition,
  InvalidTransitionError,
  initialState,
  STUDY_STATES,
  transition,
} from "./study-states.ts";

test("the happy path stamps every state in order", () => {
  const study = initialState(new Date("2026-01-01T00:00:00Z"));
  const steps = ["stored", "queued", "uploading", "delivered", "reported"] as const;
  steps.forEach((state, i) => {
    transition(study, state, new Date(Date.UTC(2026, 0, 1, 0, 0, i + 1)));
  });
  assert.equal(study.state, "reported");
  assert.deepEqual(Object.keys(study.transitions), [...STUDY_STATES]);
  assert.equal(study.transitions.reported, "2026-01-01T00:00:05.000Z");
  assert.deepEqual(
    study.history.map((h) => h.state),
    [...STUDY_STATES],
  );
});

test("a failed attempt returns the study to the queue; a new instance re-opens it", () => {
  const study = initialState();
  transition(study, "stored");
  transition(study, "queued");
  transition(study, "uploading");
  transition(study, "queued");
  assert.equal(study.state, "queued");
  transition(study, "uploading");
  transition(study, "delivered");
  transition(study, "received");
  assert.equal(study.state, "received");
});

test("transitions the life cycle does not allow are refused", () => {
  const study = initialState();
  assert.throws(() => transition(study, "delivered"), InvalidTransitionError);
  assert.equal(study.state, "received");
  assert.equal(canTransition("stored", "reported"), false);
  assert.equal(canTransition("queued", "delivered"), false);
});
