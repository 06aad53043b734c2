/**
 * DICOM identifiers and status codes the network service uses, named as the standard names them.
 */

/** Our AE title when the configuration names none (PS3.8 7.1.1.2: up to 16 characters). */
export const DEFAULT_AE_TITLE = "DXGATE";

/**
 * Implementation Class UID (PS3.7 D.3.3.2), sent in A-ASSOCIATE-AC and written as (0002,0012).
 * Under the 2.25 root (PS3.5 B.2): the decimal of the fixed UUID 8d3b6f0e-5c1a-4e7b-9f2d-3a6c1e0b7d45.
 */
export const IMPLEMENTATION_CLASS_UID = "2.25.187729745405491397044516678879301827909";

/** Implementation Version Name (PS3.7 D.3.3.2.2, up to 16 characters), also written as (0002,0013). */
export const IMPLEMENTATION_VERSION_NAME = "DXGATE_010";

export const TRANSFER_SYNTAX = {
  implicitVrLittleEndian: "1.2.840.10008.1.2",
  explicitVrLittleEndian: "1.2.840.10008.1.2.1",
  deflatedExplicitVrLittleEndian: "1.2.840.10008.1.2.1.99",
  explicitVrBigEndian: "1.2.840.10008.1.2.2",
} as const;

/**
 * Every standard transfer syntax lies under this root (PS3.6 Annex A): the uncompressed ones, deflate,
 * and the encapsulated families (JPEG, JPEG-LS, JPEG 2000, RLE, MPEG, HEVC, HTJ2K …). Private roots are
 * refused at negotiation, since we could not even find the attributes in such a dataset.
 */
export const STANDARD_TRANSFER_SYNTAX_ROOT = "1.2.840.10008.1.2";

export const SOP_CLASS = {
  verification: "1.2.840.10008.1.1",
  /** PS3.4 J.3.5: the Storage Commitment Push Model SOP Class and its well-known instance. */
  storageCommitmentPushModel: "1.2.840.10008.1.20.1",
  storageCommitmentPushModelInstance: "1.2.840.10008.1.20.1.1",
} as const;

/**
 * Abstract syntaxes that are not storage SOP classes (PS3.4 Annexes C, K, F, J, H, R): we do not
 * offer those services, so their presentation contexts are rejected. Everything else, including
 * private SOP classes, is taken as storage — modalities send vendor-private instances too.
 */
export const NON_STORAGE_SOP_CLASS_PREFIXES: readonly string[] = [
  "1.2.840.10008.5.1.4.1.2.", // Query/Retrieve (PS3.4 C.6)
  "1.2.840.10008.5.1.4.31", // Modality Worklist (PS3.4 K.6)
  "1.2.840.10008.5.1.4.32.", // General Purpose Worklist (retired)
  "1.2.840.10008.5.1.4.33", // Instance Availability Notification (PS3.4 R)
  "1.2.840.10008.5.1.4.34.6.", // Unified Procedure Step (PS3.4 CC)
  "1.2.840.10008.5.1.4.37.", // Hanging Protocol Q/R
  "1.2.840.10008.5.1.4.39.", // Color Palette Q/R
  "1.2.840.10008.3.1.2.", // Detached/Modality Performed Procedure Step (PS3.4 F)
  "1.2.840.10008.1.20.", // Storage Commitment (PS3.4 J)
  "1.2.840.10008.1.40", // Procedural Event Logging
  "1.2.840.10008.5.1.1.", // Print Management (PS3.4 H)
];

/** DIMSE status codes (PS3.7 Annex C; C-STORE specifics in PS3.4 Table B.2-1). */
export const STATUS = {
  success: 0x0000,
  /** PS3.4 B.2.3: Refused, Out of Resources — the SCU may retry later. */
  outOfResources: 0xa700,
  /** PS3.4 B.2.3: Error, Data Set does not match SOP Class. */
  dataSetDoesNotMatchSopClass: 0xa900,
  /** PS3.4 B.2.3: Error, Cannot understand (Cxxx: the low bits are ours, listed below). */
  cannotUnderstand: 0xc000,
  /** Cannot understand: the dataset is truncated or its encoding is malformed. */
  cannotUnderstandMalformed: 0xc001,
  /** Cannot understand: a required attribute (Study/Series/SOP Instance UID) is missing. */
  cannotUnderstandMissingAttribute: 0xc002,
  /** Cannot understand: the dataset's SOP Instance UID differs from the command's. */
  cannotUnderstandInstanceMismatch: 0xc003,
} as const;

/** A-ASSOCIATE-RJ fields (PS3.8 9.3.4, Table 9-21). */
export const ASSOCIATE_REJECT = {
  resultPermanent: 1,
  resultTransient: 2,
  sourceServiceUser: 1,
  /** Source 3, service-provider (presentation related function): reason 2 is local-limit-exceeded. */
  sourceServiceProviderPresentation: 3,
  reasonNoReasonGiven: 1,
  reasonCallingAeNotRecognized: 3,
  reasonCalledAeNotRecognized: 7,
  reasonLocalLimitExceeded: 2,
} as const;

/** A-ABORT fields (PS3.8 9.3.8, Table 9-26): source 2 is the UL service-provider. */
export const ABORT = {
  sourceServiceProvider: 2,
  reasonNotSpecified: 0,
  reasonUnexpectedPdu: 2,
} as const;

/** Presentation context results in A-ASSOCIATE-AC (PS3.8 9.3.3.2). */
export const CONTEXT_RESULT = {
  acceptance: 0,
  abstractSyntaxNotSupported: 3,
  transferSyntaxesNotSupported: 4,
} as const;
