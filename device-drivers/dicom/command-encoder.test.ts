import assert from "node:assert/strict";
import { test } from "node:test";
import dimse from "dcmjs-dimse";
import { encodeCommandDirectly, encodeCommandSet } from "./command-encoder.ts";

function storeResponse(sopInstanceUid: string, status: number, errorComment?: string) {
  const request = new dimse.requests.CStoreRequest(
    new dimse.Dataset(
      { SOPClassUID: "1.2.840.10008.5.1.4.1.1.6.1", SOPInstanceUID: sopInstanceUid },
      "1.2.840.10008.1.2.1",
    ),
  );
  request.setMessageId(7);
  const response = dimse.responses.CStoreResponse.fromRequest(request);
  response.setStatus(status);
  if (errorComment) response.setErrorComment(errorComment);
  return response;
}

test("C-STORE and C-ECHO response command sets are encoded exactly as dcmjs-dimse encodes them", () => {
  const echo = new dimse.requests.CEchoRequest();
  echo.setMessageId(65535);
  const echoResponse = dimse.responses.CEchoResponse.fromRequest(echo);
  echoResponse.setStatus(0);
  const responses = [
    storeResponse("1.2.3.45", 0x0000),
    storeResponse("1.2.3.456", 0xa700, "dxgate: cannot stage instance (ENOSPC)"),
    storeResponse("2.25.16108305060000000000000000000000000107", 0xc000, "odd"),
    echoResponse,
  ];
  for (const response of responses) {
    const dataset = response.getCommandDataset();
    const expected = dataset.getDenaturalizedCommandDataset();
    assert.deepEqual(encodeCommandSet(dataset.getElements()), expected);
    encodeCommandDirectly(response);
    assert.deepEqual(dataset.getDenaturalizedCommandDataset(), expected);
  }
});

test("a command set with an element or value it does not know is left to dcmjs-dimse", () => {
  assert.equal(encodeCommandSet({ CommandField: 0x8001, NumberOfRemainingSuboperations: 3 }), undefined);
  assert.equal(encodeCommandSet({ CommandField: 0x8001, ErrorComment: "中文" }), undefined);
  assert.equal(encodeCommandSet({ CommandField: 0x8001, AffectedSOPInstanceUID: "" }), undefined);
  assert.equal(encodeCommandSet({ CommandField: "x" }), undefined);
});
