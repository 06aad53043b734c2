/**
 * How our ECG objects mark what DICOM has no attribute for, shared by the writer and the reader.
 * Annotation Group Numbers are local to the writer (PS3.3 C.10.10.1.1); ours follow the Mortara
 * objects for statements (0) and measurements (1) and use high numbers for the gateway's own.
 */
export const ANNOTATION_GROUP = {
  statements: 0,
  measurements: 1,
  /** The record's notes and the writer's: derived leads, rescaling, resampling, SOP Class. */
  notes: 9001,
  /** Stretches of the rhythm lost in transit (record.gaps), as SEGMENT annotations. */
  gaps: 9002,
} as const;

export const GAP_ANNOTATION_TEXT = "Signal lost in transmission: samples filled by the gateway";

/** Appended to the Channel Label of a lead the box computed ("III (derived)"). */
export const DERIVED_LABEL_SUFFIX = " (derived)";
