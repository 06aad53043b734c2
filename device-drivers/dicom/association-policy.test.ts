import assert from "node:assert/strict";
import { test } from "node:test";
import { chooseTransferSyntax, decideContexts, isCalledAeTitleOurs } from "./association-policy.ts";

const EXPLICIT = "1.2.840.10008.1.2.1";
const IMPLICIT = "1.2.840.10008.1.2";
const BIG_ENDIAN = "1.2.840.10008.1.2.2";
const JPEG_LOSSLESS = "1.2.840.10008.1.2.4.70";
const JPEG_2000 = "1.2.840.10008.1.2.4.90";
const RLE = "1.2.840.10008.1.2.5";
const DEFLATED = "1.2.840.10008.1.2.1.99";

test("called AE titles match without padding, with case", () => {
  assert.equal(isCalledAeTitleOurs("DXGATE", "DXGATE"), true);
  assert.equal(isCalledAeTitleOurs("  DXGATE  ", "DXGATE"), true);
  assert.equal(isCalledAeTitleOurs("dxgate", "DXGATE"), false);
  assert.equal(isCalledAeTitleOurs("ANY-SCP", "DXGATE"), false);
});

test("explicit VR little endian is preferred, then implicit", () => {
  assert.equal(chooseTransferSyntax([IMPLICIT, BIG_ENDIAN, EXPLICIT]), EXPLICIT);
  assert.equal(chooseTransferSyntax([JPEG_LOSSLESS, IMPLICIT]), IMPLICIT);
});

test("an encapsulated or deflated syntax proposed alone is accepted as is", () => {
  for (const uid of [JPEG_LOSSLESS, JPEG_2000, RLE, DEFLATED, BIG_ENDIAN]) {
    assert.equal(chooseTransferSyntax([uid]), uid);
  }
  assert.equal(chooseTransferSyntax([JPEG_2000, RLE]), JPEG_2000, "the first lossless one proposed");
});

test("a lossy syntax is taken only when nothing lossless is offered in that context", () => {
  const JPEG_BASELINE = "1.2.840.10008.1.2.4.50";
  const JPEG_2000_LOSSY = "1.2.840.10008.1.2.4.91";
  assert.equal(chooseTransferSyntax([JPEG_BASELINE, JPEG_LOSSLESS]), JPEG_LOSSLESS);
  assert.equal(chooseTransferSyntax([JPEG_2000_LOSSY, JPEG_BASELINE, RLE]), RLE);
  assert.equal(chooseTransferSyntax([JPEG_BASELINE, EXPLICIT]), EXPLICIT);
  assert.equal(
    chooseTransferSyntax([JPEG_2000_LOSSY, JPEG_BASELINE]),
    JPEG_2000_LOSSY,
    "lossy only: the first",
  );
});

test("private transfer syntaxes are refused", () => {
  assert.equal(chooseTransferSyntax(["1.2.840.113619.5.2"]), undefined);
  assert.equal(chooseTransferSyntax([]), undefined);
});

test("verification, storage (standard or private), the worklist and storage commitment are accepted, other services are not", () => {
  const decisions = decideContexts([
    { id: 1, abstractSyntaxUid: "1.2.840.10008.1.1", transferSyntaxUids: [IMPLICIT] },
    { id: 3, abstractSyntaxUid: "1.2.840.10008.5.1.4.1.1.6.1", transferSyntaxUids: [JPEG_LOSSLESS] },
    { id: 5, abstractSyntaxUid: "1.2.840.113619.4.26", transferSyntaxUids: [EXPLICIT, IMPLICIT] },
    { id: 7, abstractSyntaxUid: "1.2.840.10008.5.1.4.31", transferSyntaxUids: [IMPLICIT] },
    { id: 9, abstractSyntaxUid: "1.2.840.10008.5.1.4.1.2.2.1", transferSyntaxUids: [IMPLICIT] },
    { id: 11, abstractSyntaxUid: "1.2.840.10008.1.20.1", transferSyntaxUids: [IMPLICIT] },
    { id: 13, abstractSyntaxUid: "1.2.840.10008.5.1.4.1.1.1", transferSyntaxUids: ["1.2.3.private"] },
  ]);
  assert.deepEqual(decisions, [
    { id: 1, result: 0, transferSyntaxUid: IMPLICIT },
    { id: 3, result: 0, transferSyntaxUid: JPEG_LOSSLESS },
    { id: 5, result: 0, transferSyntaxUid: EXPLICIT },
    { id: 7, result: 0, transferSyntaxUid: IMPLICIT },
    { id: 9, result: 3 },
    { id: 11, result: 0, transferSyntaxUid: IMPLICIT },
    { id: 13, result: 4 },
  ]);
});
