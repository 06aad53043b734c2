/**
 * The report inbox: reports from the reading centre, stored durably before the uploader acknowledges
 * them to the county (so a report acknowledged is a report the box still has after a power cut).
 * One file per report under `<dataDir>/reports/<reportId>.json`; the directory is the source of
 * truth, and the study index only mirrors it.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileDurable } from "../../common/durable-file.ts";
import type { Logger } from "../../common/logger.ts";
import type { ReportInbox } from "../../uploader/index.ts";
import type { ReportMessage } from "../../uploader/protocol/index.ts";
import type { StudyReport } from "../studies/study-index.ts";

interface StoredReport extends StudyReport {
  studyInstanceUid: string;
}

/** Where accepted reports are attached for display (the study service). */
export interface ReportTarget {
  attachReport(studyInstanceUid: string, report: StudyReport): Promise<boolean>;
}

const REPORT_ID = /^[A-Za-z0-9_.-]{1,128}$/;

export class FileReportInbox implements ReportInbox {
  readonly #dir: string;
  readonly #target: ReportTarget;
  readonly #log: Logger;

  constructor(dataDir: string, target: ReportTarget, log: Logger) {
    this.#dir = join(dataDir, "reports");
    this.#target = target;
    this.#log = log;
  }

  async accept(report: ReportMessage): Promise<void> {
    // The id becomes a file name: refuse anything that could escape the directory.
    if (!REPORT_ID.test(report.reportId)) throw new Error("report id is not a safe file name");
    const stored: StoredReport = {
      studyInstanceUid: report.studyInstanceUid,
      reportId: report.reportId,
      findings: report.findings,
      impression: report.impression,
      critical: report.critical,
      reportedBy: report.reportedBy,
      reportedAt: report.reportedAt,
      receivedAt: new Date().toISOString(),
    };
    const path = join(this.#dir, `${report.reportId}.json`);
    const existing = await readStored(path);
    if (!existing) await writeFileDurable(path, `${JSON.stringify(stored)}\n`);
    const { studyInstanceUid, ...rest } = existing ?? stored;
    const attached = await this.#target.attachReport(studyInstanceUid, rest);
    this.#log.info(
      {
        reportId: report.reportId,
        studyInstanceUid,
        critical: report.critical,
        duplicate: Boolean(existing),
        attached,
      },
      "report stored",
    );
  }

  /** Re-attach every stored report (after the index was rebuilt). */
  async restore(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw error;
    }
    const reports: StoredReport[] = [];
    for (const name of names.filter((n) => n.endsWith(".json") && !n.startsWith("."))) {
      const report = await readStored(join(this.#dir, name));
      if (report) reports.push(report);
    }
    // Oldest first, so a study with several reports (an addendum) ends up showing the latest.
    reports.sort((a, b) => a.reportedAt.localeCompare(b.reportedAt));
    for (const { studyInstanceUid, ...rest } of reports)
      await this.#target.attachReport(studyInstanceUid, rest);
    return reports.length;
  }
}

async function readStored(path: string): Promise<StoredReport | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as StoredReport;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
