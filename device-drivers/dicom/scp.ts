/**
 * One association, one instance of this class: the dcmjs-dimse `Scp` subclass that answers
 * A-ASSOCIATE-RQ, C-ECHO and C-STORE, streaming each C-STORE dataset straight into a staging file.
 *
 * State lives in ES private (#) fields so nothing can collide with dcmjs-dimse's own properties.
 */
import type { Socket } from "node:net";
import type { Writable } from "node:stream";
import type { association, requests, responses } from "dcmjs-dimse";
import dimse from "dcmjs-dimse";
import type { Logger } from "../../common/logger.ts";
import type { InstanceSink, InstanceSource, WorklistSource } from "../types.ts";
import type { Admitter, KnownDevice } from "./admission.ts";
import { decideContexts, isCalledAeTitleOurs } from "./association-policy.ts";
import { AssociationWatchdog } from "./association-watchdog.ts";
import { encodeCommandDirectly } from "./command-encoder.ts";
import { ABORT, ASSOCIATE_REJECT, CONTEXT_RESULT, STATUS } from "./constants.ts";
import { buildPart10Header } from "./part10.ts";
import { PDataFastPath } from "./pdata-fast-path.ts";
import { PduGuard } from "./pdu-guard.ts";
import { StagingWriter } from "./staging-writer.ts";
import type { StorageCommitmentScp } from "./storage-commitment.ts";
import { storeInstance } from "./store-instance.ts";
import { WorklistFindProvider } from "./worklist-find.ts";

type Association = association.Association;
type PresentationContext = association.PresentationContext;
type CEchoRequest = requests.CEchoRequest;
type CStoreRequest = requests.CStoreRequest;
type CFindRequest = requests.CFindRequest;

/** What every association shares: the service's configuration and its in-flight work tracker. */
export interface ScpContext {
  aeTitle: string;
  sink: InstanceSink;
  /** Modality Worklist entries (PS3.4 K.6); without one, worklist queries are refused (0122H). */
  worklist?: WorklistSource | undefined;
  log: Logger;
  /** PS3.8 9.1.5 ARTIM: how long a connection may stay without an A-ASSOCIATE-RQ, in milliseconds. */
  associationTimeoutMs: number;
  /** Register work (a C-STORE being stored) that `stop()` waits for. */
  track(work: Promise<unknown>): void;
  /** Allow-lists and the association limit (admission.ts); absent = everyone is admitted. */
  admitter?: Admitter | undefined;
  /** The peer's time to complete each PDU while it is its turn (association-watchdog.ts). */
  idleTimeoutMs?: number | undefined;
  /** Storage Commitment Push Model SCP; without it N-ACTIONs are refused (0118H). */
  commitment?: StorageCommitmentScp | undefined;
}

/** dcmjs-dimse's per-connection options (its PDU timeout, in milliseconds, among them). */
export type ScpOptions = ConstructorParameters<typeof dimse.Scp>[1];

export class DxgateScp extends dimse.Scp {
  readonly #context: ScpContext;
  readonly #worklist: WorklistFindProvider;
  readonly #socket: Socket;
  readonly #remoteAddress: string;
  #callingAeTitle = "";
  #calledAeTitle = "";
  /** The dataset being received, until its C-STORE request is dispatched. */
  #receiving: StagingWriter | undefined;
  readonly #staged = new WeakMap<CStoreRequest, StagingWriter>();
  #associationTimer: NodeJS.Timeout | undefined;
  #socketPaused = false;
  #instances = 0;
  #watchdog: AssociationWatchdog | undefined;
  /** Frees this association's admission slot (admission.ts); runs once, on the socket's 'close'. */
  #releaseSlot: (() => void) | undefined;
  #associationRequested = false;
  #closedAlready = false;
  #device: KnownDevice | undefined;
  #released = false;
  /** We sent an A-ABORT: nothing more the peer sends is processed. */
  #aborted = false;
  /** Store streams dcmjs-dimse has handed back once (their dataset's last fragment arrived). */
  readonly #datasetsEnded = new WeakSet<Writable>();

  constructor(socket: Socket, options: ScpOptions, context: ScpContext) {
    super(socket, options);
    this.#context = context;
    this.#worklist = new WorklistFindProvider(context.worklist, context.log);
    this.#socket = socket;
    this.#remoteAddress = socket.remoteAddress ?? "";
    this.#routeDatasetFragments(socket);
    const guard = new PduGuard(dimse.Implementation.getMaxPduLength());
    let pdusSeen = 0;
    socket.on("data", (chunk: Buffer) => {
      const violation = guard.accept(chunk);
      if (violation) {
        context.log.warn({ event: "protocol-violation", remoteAddress: this.#remoteAddress, violation });
        socket.destroy();
        return;
      }
      if (guard.completedPdus !== pdusSeen) {
        pdusSeen = guard.completedPdus;
        this.#watchdog?.progress();
      }
      // dcmjs-dimse writes every PDV synchronously from its 'data' listener, registered before
      // ours: now the staging writer's buffer tells whether the disk is keeping up.
      this.#applyBackpressure();
    });
    socket.on("close", () => this.#closed());
    this.#associationTimer = setTimeout(() => {
      context.log.warn(
        { event: "association-timeout", remoteAddress: this.#remoteAddress },
        "no A-ASSOCIATE-RQ",
      );
      socket.destroy();
    }, context.associationTimeoutMs);
  }

  /**
   * Put the P-DATA-TF fast path (pdata-fast-path.ts) in place of dcmjs-dimse's socket 'data'
   * listener, the only one registered so far, so it stays first: a dataset's middle fragments go
   * straight to its staging file, everything else reaches dcmjs-dimse whole.
   */
  #routeDatasetFragments(socket: Socket): void {
    const listeners = socket.listeners("data") as Array<(chunk: Buffer) => void>;
    const dimseListener = listeners[0];
    if (listeners.length !== 1 || !dimseListener) return;
    const network = this as unknown as {
      dimseStoreStream?: Writable;
      lastPduTime?: number;
      association?: Association;
      statistics?: { addBytesReceived(bytes: number): void };
    };
    const fastPath = new PDataFastPath({
      storeStream: () => {
        const stream = network.dimseStoreStream;
        return stream && stream === this.#receiving && !stream.writableEnded ? stream : undefined;
      },
      hasContext: (id) => network.association?.getPresentationContexts().some((c) => c.id === id) ?? false,
      forward: dimseListener,
      bypassed: (bytes) => {
        // What dcmjs-dimse's listener records for every PDU: its PDU timeout clock and byte count.
        network.lastPduTime = Date.now();
        network.statistics?.addBytesReceived(bytes);
      },
    });
    socket.off("data", dimseListener);
    socket.on("data", (chunk: Buffer) => {
      if (!this.#aborted) fastPath.accept(chunk);
    });
  }

  override associationRequested(request: Association): void {
    clearTimeout(this.#associationTimer);
    if (this.#associationRequested) {
      // PS3.8 9.2 (state machine, AA-8): an A-ASSOCIATE-RQ on a connection that already carried one
      // is an unexpected PDU. Admitting it again would take a second slot for one connection.
      this.#protocolAbort("second A-ASSOCIATE-RQ on one connection");
      return;
    }
    this.#associationRequested = true;
    this.#callingAeTitle = request.getCallingAeTitle();
    this.#calledAeTitle = request.getCalledAeTitle();
    const fields = {
      callingAeTitle: this.#callingAeTitle,
      calledAeTitle: this.#calledAeTitle,
      remoteAddress: this.#remoteAddress,
    };
    if (!isCalledAeTitleOurs(this.#calledAeTitle, this.#context.aeTitle)) {
      this.#context.log.warn({
        ...fields,
        event: "association-rejected",
        reason: "called-ae-not-recognized",
      });
      // PS3.8 9.3.4: rejected-permanent, by the service user, called AE title not recognized.
      this.sendAssociationReject(
        ASSOCIATE_REJECT.resultPermanent,
        ASSOCIATE_REJECT.sourceServiceUser,
        ASSOCIATE_REJECT.reasonCalledAeNotRecognized,
      );
      this.#socket.end();
      return;
    }
    const admission = this.#context.admitter?.admit(this.#callingAeTitle, this.#remoteAddress);
    if (admission && !admission.admitted) {
      this.#context.log.warn({ ...fields, event: "association-rejected", reason: admission.why });
      // PS3.8 9.3.4; the fields are chosen in admission.ts.
      this.sendAssociationReject(admission.result, admission.source, admission.reason);
      this.#socket.end();
      return;
    }
    this.#releaseSlot = admission?.release;
    // The slot is released on 'close'; a socket already closed will not emit it again.
    if (this.#closedAlready) this.#releaseSlot?.();
    this.#device = admission?.device;
    const contexts = request.getPresentationContexts();
    const decisions = decideContexts(
      contexts.map(({ id, context }) => ({
        id,
        abstractSyntaxUid: context.getAbstractSyntaxUid(),
        transferSyntaxUids: context.getTransferSyntaxUids(),
      })),
    );
    for (const decision of decisions) {
      const context = request.getPresentationContext(decision.id);
      if (decision.result === CONTEXT_RESULT.acceptance)
        context.setResult(decision.result, decision.transferSyntaxUid);
      else context.setResult(decision.result);
    }
    const accepted = decisions.filter((decision) => decision.result === CONTEXT_RESULT.acceptance).length;
    this.#context.log.info(
      {
        ...fields,
        event: "association",
        contextsAccepted: accepted,
        contextsRejected: decisions.length - accepted,
      },
      "association accepted",
    );
    this.#acceptAnnouncingOurMaxPdu(request);
    if (this.#context.idleTimeoutMs) {
      this.#watchdog = new AssociationWatchdog(this.#context.idleTimeoutMs, () => this.#idleAbort());
    }
  }

  /**
   * PS3.8 D.1: each side announces the largest PDU *it* can receive. dcmjs-dimse announces the
   * smaller of the peer's and ours, which makes a modality that can receive only 16 KiB also send
   * us 16 KiB PDUs. Announce ours, then restore the peer's limit, which bounds what we send.
   */
  #acceptAnnouncingOurMaxPdu(request: Association): void {
    const peerMaxPduLength = request.getMaxPduLength();
    request.setMaxPduLength(dimse.Implementation.getMaxPduLength());
    try {
      this.sendAssociationAccept();
    } catch (error) {
      // A legal A-ASSOCIATE-RQ can still break dcmjs-dimse's encoder: it renumbers presentation
      // context IDs that are not ascending (255 then 1 becomes 257) and then cannot write them in
      // one byte (dicom-fuzz.test.ts). Abort this association; never let it reach the process.
      this.#context.log.warn(
        { event: "association-accept-failed", remoteAddress: this.#remoteAddress, error: String(error) },
        "could not encode A-ASSOCIATE-AC; rejecting",
      );
      // PS3.8 9.3.4: rejected-permanent, service-user, no reason given; then close.
      try {
        this.sendAssociationReject(
          ASSOCIATE_REJECT.resultPermanent,
          ASSOCIATE_REJECT.sourceServiceUser,
          ASSOCIATE_REJECT.reasonNoReasonGiven,
        );
        this.#socket.end();
      } catch {
        this.#socket.destroy();
      }
      return;
    }
    request.setMaxPduLength(peerMaxPduLength);
  }

  override associationReleaseRequested(): void {
    // PS3.8 7.2: answer A-RELEASE-RQ with A-RELEASE-RP; the requestor then closes the connection.
    this.#released = true;
    this.sendAssociationReleaseResponse();
  }

  override cEchoRequest(request: CEchoRequest, callback: (response: responses.CEchoResponse) => void): void {
    // PS3.7 9.3.5: the C-ECHO-RSP Status is Success when we are alive and associated.
    const response = dimse.responses.CEchoResponse.fromRequest(request);
    encodeCommandDirectly(response);
    response.setStatus(STATUS.success);
    callback(response);
  }

  override cFindRequest(
    request: CFindRequest,
    callback: (responses: responses.CFindResponse[]) => void,
  ): void {
    // PS3.4 K.6: Modality Worklist FIND (worklist-find.ts); dcmjs-dimse sends the responses in order.
    this.#context.track(this.#worklist.find(request, this.#callingAeTitle).then(callback));
  }

  override cCancelRequest(request: requests.CCancelRequest): void {
    this.#worklist.cancel(request.getMessageIdBeingRespondedTo());
  }

  override createStoreWritableStream(context: PresentationContext, request: CStoreRequest): Writable {
    // PS3.8 9.3.5: P-DATA on a presentation context that was not accepted is a protocol error; the
    // throw is caught by dcmjs-dimse and ends the connection.
    if (context?.getResult() !== CONTEXT_RESULT.acceptance) {
      throw new Error("C-STORE data on a presentation context that was not accepted");
    }
    const sink = this.#context.sink;
    const writer = new StagingWriter({
      stagingPath: () => sink.stagingPath(),
      keepOpen: true, // handed to the sink, which fsyncs through it

      header: buildPart10Header({
        // PS3.10 7.1: the media storage UIDs are those of the C-STORE command (PS3.7 9.1.1.1).
        sopClassUid: request.getAffectedSopClassUid() ?? "",
        sopInstanceUid: request.getAffectedSopInstanceUid() ?? "",
        transferSyntaxUid: context.getAcceptedTransferSyntaxUid() ?? "",
        sourceAeTitle: this.#callingAeTitle,
      }),
    });
    writer.on("error", () => undefined); // failures are recorded in writer.failure, never thrown
    // PS3.8 9.3.5, E.2: after the last fragment of the dataset, only a new command may come (once
    // answered). dcmjs-dimse would write the PDV into the ended stream, which destroys it before
    // 'finish', so the C-STORE would never be answered nor the association timed out.
    writer.onWriteAfterEnd = () => this.#protocolAbort("P-DATA after the last fragment of the dataset");
    this.#receiving = writer;
    this.#staged.set(request, writer);
    return writer;
  }

  override createDatasetFromStoreWritableStream(
    writable: Writable,
    context: PresentationContext,
    callback: (dataset: InstanceType<typeof dimse.Dataset>) => void,
  ): void {
    // The dataset stays on disk: dcmjs-dimse gets an empty Dataset, and the C-STORE handler finds the
    // file through the request. 'finish' means the file is complete, fsynced and closed.
    if (this.#datasetsEnded.has(writable)) {
      // dcmjs-dimse saw a second "last fragment" for this dataset (a repeated PDV): the write hook
      // above already aborted the association. One callback per dataset, never two.
      this.#protocolAbort("dataset ended twice");
      return;
    }
    this.#datasetsEnded.add(writable);
    const ourTurn = this.#hold(); // the peer waits while the staging file is fsynced
    const done = () => {
      writable.off("close", ourTurn);
      ourTurn();
      if (!this.#aborted) callback(new dimse.Dataset({}, context.getAcceptedTransferSyntaxUid()));
    };
    if (writable.writableFinished) done();
    else {
      writable.once("finish", done);
      // Destroyed before 'finish' (the connection went away): the hold ends all the same.
      writable.once("close", ourTurn);
    }
  }

  override cStoreRequest(
    request: CStoreRequest,
    callback: (response: responses.CStoreResponse) => void,
  ): void {
    const writer = this.#staged.get(request);
    this.#staged.delete(request);
    if (this.#receiving === writer) this.#receiving = undefined;
    const response = dimse.responses.CStoreResponse.fromRequest(request);
    encodeCommandDirectly(response);
    const ourTurn = this.#hold();
    const respond = (status: number, errorComment: string) => {
      ourTurn();
      if (this.#aborted) return; // the association is gone: no C-STORE-RSP after our A-ABORT
      response.setStatus(status);
      if (errorComment) response.setErrorComment(errorComment);
      callback(response);
    };
    if (!writer) {
      respond(STATUS.outOfResources, "dxgate: dataset not staged");
      return;
    }
    const source: InstanceSource = {
      kind: "dicom",
      callingAeTitle: this.#callingAeTitle,
      calledAeTitle: this.#calledAeTitle,
      remoteAddress: this.#remoteAddress,
    };
    const work = storeInstance(
      writer,
      {
        sopClassUid: request.getAffectedSopClassUid() ?? "",
        sopInstanceUid: request.getAffectedSopInstanceUid() ?? "",
        transferSyntaxUid: this.#acceptedTransferSyntax(request),
        source,
      },
      this.#context.sink,
      this.#context.log,
    ).then(
      (outcome) => {
        if (outcome.status === STATUS.success) this.#instances += 1;
        respond(outcome.status, outcome.errorComment);
      },
      (error: unknown) => {
        // storeInstance does not throw; this is a last line so the SCU always gets an answer.
        this.#context.log.error({ event: "store-failed", error: String(error) }, "C-STORE handler failed");
        respond(STATUS.outOfResources, "dxgate: internal error");
      },
    );
    this.#context.track(work);
  }

  override nActionRequest(
    request: requests.NActionRequest,
    callback: (response: responses.NActionResponse) => void,
  ): void {
    const commitment = this.#context.commitment;
    if (!commitment) {
      const response = dimse.responses.NActionResponse.fromRequest(request);
      response.setStatus(0x0118); // PS3.7 10.1.4.1.10: No such SOP Class
      callback(response);
      return;
    }
    // PS3.4 J.3.2: storage-commitment.ts answers now and reports later.
    commitment.nAction(request, callback, {
      callingAeTitle: this.#callingAeTitle,
      remoteAddress: this.#remoteAddress,
      device: this.#device,
      sendOnAssociation: (report) => {
        if (this.#released || this.#socket.destroyed || !this.#socket.writable) return false;
        this.sendRequests(report);
        return true;
      },
    });
  }

  /** It is our turn (the peer waits for us): the idle clock stops until the returned function runs. */
  #hold(): () => void {
    return this.#watchdog?.hold() ?? (() => undefined);
  }

  /**
   * The peer broke the protocol: A-ABORT (PS3.8 9.3.8, source UL service-provider, unexpected PDU),
   * then close. Idempotent; what the peer sends afterwards is ignored.
   */
  #protocolAbort(violation: string): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#watchdog?.stop();
    this.#context.log.warn({
      event: "protocol-violation",
      callingAeTitle: this.#callingAeTitle,
      remoteAddress: this.#remoteAddress,
      violation,
    });
    try {
      this.sendAbort(ABORT.sourceServiceProvider, ABORT.reasonUnexpectedPdu);
      this.#socket.end();
      setTimeout(() => this.#socket.destroy(), 1_000).unref();
    } catch {
      this.#socket.destroy();
    }
  }

  /** Slow-loris or idle peer: A-ABORT (PS3.8 9.3.8, source UL service-provider), then close. */
  #idleAbort(): void {
    this.#context.log.warn({
      event: "association-idle-timeout",
      callingAeTitle: this.#callingAeTitle,
      remoteAddress: this.#remoteAddress,
      timeoutMs: this.#context.idleTimeoutMs,
    });
    this.sendAbort(ABORT.sourceServiceProvider, ABORT.reasonNotSpecified);
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), 1_000).unref();
  }

  override abort(source: number, reason: number): void {
    this.#context.log.warn({
      event: "association-aborted",
      callingAeTitle: this.#callingAeTitle,
      remoteAddress: this.#remoteAddress,
      source,
      reason,
    });
    // PS3.8 9.1.4: after an A-ABORT the transport connection is closed.
    this.#socket.destroy();
  }

  #acceptedTransferSyntax(request: CStoreRequest): string {
    return request.getDataset()?.getTransferSyntaxUid() ?? "";
  }

  /** Pause reading the network while the staging file has more than its high-water mark queued. */
  #applyBackpressure(): void {
    const writer = this.#receiving;
    if (!writer || this.#socketPaused || !writer.writableNeedDrain) return;
    this.#socketPaused = true;
    this.#socket.pause();
    const ourTurn = this.#hold(); // we stopped reading: the peer cannot make progress
    this.#context.log.debug(
      { event: "backpressure", remoteAddress: this.#remoteAddress, bufferedBytes: writer.writableLength },
      "network paused until the staging file catches up",
    );
    const resume = () => {
      writer.off("drain", resume).off("finish", resume).off("close", resume);
      ourTurn();
      this.#socketPaused = false;
      if (!this.#socket.destroyed) this.#socket.resume();
    };
    // 'drain' is not emitted once end() was called: the last fragment resumes on 'finish'.
    writer.on("drain", resume).on("finish", resume).on("close", resume);
  }

  #closed(): void {
    this.#closedAlready = true;
    clearTimeout(this.#associationTimer);
    this.#watchdog?.stop();
    this.#releaseSlot?.();
    const writer = this.#receiving;
    this.#receiving = undefined;
    // A dataset cut off mid-way (abort, dropped link) was never acknowledged: drop its file.
    if (writer) this.#context.track(writer.discard());
    if (this.#callingAeTitle) {
      this.#context.log.info(
        {
          event: "association-closed",
          callingAeTitle: this.#callingAeTitle,
          remoteAddress: this.#remoteAddress,
          instances: this.#instances,
          bytesReceived: this.#socket.bytesRead,
          interrupted: writer !== undefined,
        },
        "association closed",
      );
    }
  }
}
