/**
 * Storage Commitment Push Model with the dcmjs-dimse Client as the modality: one stored and one
 * unknown instance, reported on the same association (the SCU lingers) and on a new association
 * to the modality's configured port when the SCU has released (PS3.4 J.3.3).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { requests, responses } from "dcmjs-dimse";
import dimse from "dcmjs-dimse";
import { silentLogger } from "../../common/logger.ts";
import { createDicomService, type DicomService } from "../index.ts";
import type { CommitmentStatus } from "../types.ts";
import { makeTestSink, removeTestSink, type TestSink, waitFor } from "./test-support.ts";

const SC = "1.2.840.10008.1.20.1";
const SC_INSTANCE = "1.2.840.10008.1.20.1.1";
const US = "1.2.840.10008.5.1.4.1.1.6.1";
const STORED = "1.2.826.0.1.3680043.2.1125.7.1";
const UNKNOWN = "1.2.826.0.1.3680043.2.1125.7.2";
const LATER = "1.2.826.0.1.3680043.2.1125.7.3";

interface Report {
  eventType: number;
  elements: Record<string, unknown>;
}

let sink: TestSink;
let service: DicomService;
let port: number;
let modality: InstanceType<typeof dimse.Server> | undefined;
const modalityReports: Report[] = [];
let laterCommitted = false;

/** The modality's own listener for N-EVENT-REPORTs on an association we open. */
class ModalityScp extends dimse.Scp {
  override associationRequested(association: InstanceType<typeof dimse.association.Association>): void {
    for (const { id } of association.getPresentationContexts()) {
      association.getPresentationContext(id).setResult(0, "1.2.840.10008.1.2");
    }
    this.sendAssociationAccept();
  }
  override associationReleaseRequested(): void {
    this.sendAssociationReleaseResponse();
  }
  override nEventReportRequest(
    request: requests.NEventReportRequest,
    callback: (response: responses.NEventReportResponse) => void,
  ): void {
    modalityReports.push({
      eventType: request.getEventTypeId(),
      elements: request.getDataset()?.getElements() ?? {},
    });
    const response = dimse.responses.NEventReportResponse.fromRequest(request);
    response.setStatus(0);
    callback(response);
  }
}

const MODALITY_PORT = 41_000 + Math.floor(Math.random() * 10_000);

before(async () => {
  sink = await makeTestSink();
  const statuses = new Map<string, CommitmentStatus>([[STORED, "committed"]]);
  service = createDicomService({
    host: "127.0.0.1",
    port: 0,
    sink,
    log: silentLogger(),
    admission: { devices: [{ aeTitle: "US1", port: MODALITY_PORT }], allowUnknown: true },
    commitment: {
      source: {
        async status(sopInstanceUid) {
          if (sopInstanceUid === LATER) return laterCommitted ? "committed" : "pending";
          return statuses.get(sopInstanceUid) ?? "unknown";
        },
      },
      pollMs: 50,
      waitMs: 5_000,
      replyRetryDelaysMs: [200],
    },
  });
  ({ port } = await service.start());
  modality = new dimse.Server(ModalityScp);
  modality.on("networkError", () => undefined);
  modality.listen(MODALITY_PORT);
});

after(async () => {
  modality?.close();
  await service.stop();
  await removeTestSink(sink);
});

function commitmentRequest(transactionUid: string, sopInstanceUids: string[]): requests.NActionRequest {
  const request = new dimse.requests.NActionRequest(SC, SC_INSTANCE, 1);
  request.setDataset(
    new dimse.Dataset({
      TransactionUID: transactionUid,
      ReferencedSOPSequence: sopInstanceUids.map((uid) => ({
        ReferencedSOPClassUID: US,
        ReferencedSOPInstanceUID: uid,
      })),
    }),
  );
  return request;
}

/** Send an N-ACTION as `callingAeTitle`; collect its status and any N-EVENT-REPORT on the same association. */
function requestCommitment(
  callingAeTitle: string,
  request: requests.NActionRequest,
  lingerMs: number,
): Promise<{ actionStatus: number | undefined; reports: Report[] }> {
  return new Promise((resolve, reject) => {
    const client = new dimse.Client();
    const reports: Report[] = [];
    let actionStatus: number | undefined;
    request.on("response", (response: responses.NActionResponse) => {
      actionStatus = response.getStatus();
    });
    client.on("nEventReportRequest", (report: requests.NEventReportRequest, callback) => {
      reports.push({
        eventType: report.getEventTypeId(),
        elements: report.getDataset()?.getElements() ?? {},
      });
      const response = dimse.responses.NEventReportResponse.fromRequest(report);
      response.setStatus(0);
      callback(response);
    });
    client.on("networkError", reject);
    client.on("closed", () => resolve({ actionStatus, reports }));
    client.addRequest(request);
    client.send("127.0.0.1", port, callingAeTitle, "DXGATE", { associationLingerTimeout: lingerMs });
  });
}

function uidsOf(sequence: unknown): string[] {
  const items = (Array.isArray(sequence) ? sequence : sequence ? [sequence] : []) as Array<
    Record<string, unknown>
  >;
  return items.map((item) => String(item.ReferencedSOPInstanceUID));
}

test("same association: the stored instance is committed, the unknown one fails with 0112H", async () => {
  const { actionStatus, reports } = await requestCommitment(
    "US1",
    commitmentRequest("2.25.1001", [STORED, UNKNOWN]),
    1_000,
  );
  assert.equal(actionStatus, 0);
  assert.equal(reports.length, 1);
  const [report] = reports;
  assert.equal(report?.eventType, 2, "some failed");
  assert.equal(report?.elements.TransactionUID, "2.25.1001");
  assert.deepEqual(uidsOf(report?.elements.ReferencedSOPSequence), [STORED]);
  assert.deepEqual(uidsOf(report?.elements.FailedSOPSequence), [UNKNOWN]);
  const failed = report?.elements.FailedSOPSequence as Array<Record<string, unknown>>;
  assert.equal(failed[0]?.FailureReason, 0x0112);
});

test("released association: the result arrives on a new association to the device's port", async () => {
  modalityReports.length = 0;
  laterCommitted = false;
  const { actionStatus, reports } = await requestCommitment(
    "US1",
    commitmentRequest("2.25.1002", [STORED, LATER]),
    0,
  );
  assert.equal(actionStatus, 0);
  assert.equal(reports.length, 0, "the SCU released before the result");
  laterCommitted = true; // e.g. the county acknowledged it
  await waitFor(() => modalityReports.length > 0, 5_000);
  const [report] = modalityReports;
  assert.equal(report?.eventType, 1, "all committed");
  assert.equal(report?.elements.TransactionUID, "2.25.1002");
  assert.deepEqual(uidsOf(report?.elements.ReferencedSOPSequence).sort(), [STORED, LATER].sort());
});

test("an N-ACTION that is not action type 1, or lacks the Transaction UID, is refused", async () => {
  const wrongAction = new dimse.requests.NActionRequest(SC, SC_INSTANCE, 7);
  wrongAction.setDataset(new dimse.Dataset({ TransactionUID: "2.25.1003" }));
  assert.equal((await requestCommitment("US1", wrongAction, 0)).actionStatus, 0x0123);
  const noUid = new dimse.requests.NActionRequest(SC, SC_INSTANCE, 1);
  noUid.setDataset(new dimse.Dataset({ ReferencedSOPSequence: [] }));
  assert.equal((await requestCommitment("US1", noUid, 0)).actionStatus, 0x0115);
});
