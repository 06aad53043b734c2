/**
 * The printable report: one self-contained HTML page (inline CSS, no scripts, no external
 * resources, so it prints the same from a browser on the box with no network) showing the
 * county's report for a study, and for an ECG the 12-lead sheet on its own landscape A4 page at
 * true scale (25 mm/s stays 25 mm/s on paper).
 *
 * Field names follow the report the uploader receives (ReportMessage / StudyReport: findings,
 * impression, critical, reportedBy, reportedAt) and the study record (patient, modalities,
 * studyDate…), so a StudyRecord and its report can be passed as they are.
 */
import { DxgateError } from "../../common/errors.ts";
import {
  ageInYears,
  escapeXml,
  formatAge,
  formatDicomDate,
  formatDicomTime,
  formatPersonName,
  formatSex,
  type SheetLanguage,
} from "../../device-drivers/ecg/render/index.ts";
import type { PatientDescriptor } from "../../uploader/protocol/index.ts";
import type { StudyReport } from "../studies/study-index.ts";

export type PrintableReport = Pick<
  StudyReport,
  "findings" | "impression" | "critical" | "reportedBy" | "reportedAt"
> &
  Partial<Pick<StudyReport, "reportId" | "receivedAt">>;

export interface PrintableStudy {
  patient: Partial<PatientDescriptor>;
  modalities: string[];
  /** DICOM DA. */
  studyDate: string;
  /** DICOM TM. */
  studyTime?: string;
  studyDescription?: string;
  accessionNumber?: string;
  studyInstanceUid?: string;
  /** The health centre the study was done at, as it should be printed (e.g. "某某镇卫生院"). */
  site?: string;
}

export interface ReportPrintInput {
  report: PrintableReport;
  study: PrintableStudy;
  /** The ECG sheet from renderEcgSvg, for an ECG study; printed on its own landscape page. */
  ecgSvg?: string;
  language?: SheetLanguage;
  /** IANA time zone for the report time (default: the box's own). */
  timeZone?: string;
}

interface PageLabels {
  lang: string;
  title: (kind: string) => string;
  kinds: Record<"ECG" | "US" | "XRAY" | "OTHER", string>;
  name: string;
  sex: string;
  age: string;
  patientId: string;
  studyDate: string;
  modality: string;
  accessionNumber: string;
  description: string;
  site: string;
  critical: string;
  criticalHint: string;
  findings: string;
  impression: string;
  reportedBy: string;
  reportedAt: string;
  reportId: string;
  ecgSheet: string;
  none: string;
  footer: string;
}

const LABELS: Record<SheetLanguage, PageLabels> = {
  zh: {
    lang: "zh-CN",
    title: (kind) => `${kind}诊断报告`,
    kinds: { ECG: "心电图", US: "超声", XRAY: "X线", OTHER: "远程" },
    name: "姓名",
    sex: "性别",
    age: "年龄",
    patientId: "ID号",
    studyDate: "检查时间",
    modality: "检查类型",
    accessionNumber: "检查号",
    description: "检查项目",
    site: "检查单位",
    critical: "危急值",
    criticalHint: "本报告含危急值，请立即通知临床医师并处理。",
    findings: "检查所见",
    impression: "诊断意见",
    reportedBy: "报告医师",
    reportedAt: "报告时间",
    reportId: "报告编号",
    ecgSheet: "心电图（25 mm/s，10 mm/mV，按 100% 比例打印）",
    none: "—",
    footer: "本报告由县级远程诊断中心出具，仅供临床参考。",
  },
  en: {
    lang: "en",
    title: (kind) => `${kind} report`,
    kinds: { ECG: "ECG", US: "Ultrasound", XRAY: "X-ray", OTHER: "Diagnostic" },
    name: "Name",
    sex: "Sex",
    age: "Age",
    patientId: "Patient ID",
    studyDate: "Study date",
    modality: "Modality",
    accessionNumber: "Accession",
    description: "Study",
    site: "Site",
    critical: "CRITICAL",
    criticalHint: "This report contains a critical finding: notify the treating clinician now.",
    findings: "Findings",
    impression: "Impression",
    reportedBy: "Reported by",
    reportedAt: "Reported at",
    reportId: "Report",
    ecgSheet: "ECG (25 mm/s, 10 mm/mV; print at 100% scale)",
    none: "—",
    footer: "Issued by the county remote reading centre; for clinical reference.",
  },
};

const FONT_STACK =
  "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', 'DejaVu Sans', sans-serif";

const STYLE = `
@page { size: A4 portrait; margin: 16mm 15mm 18mm 15mm; }
@page ecg-sheet { size: A4 landscape; margin: 0; }
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; background: #fff; color: #111; }
body { font-family: ${FONT_STACK}; font-size: 10.5pt; line-height: 1.55; }
.report { max-width: 180mm; margin: 0 auto; padding: 8mm 0; }
.report > header { border-bottom: 2px solid #111; padding-bottom: 3mm; margin-bottom: 4mm; }
.report h1 { font-size: 17pt; margin: 0; text-align: center; letter-spacing: 0.05em; }
.report .site { text-align: center; margin: 1mm 0 0; font-size: 11pt; }
table.study { width: 100%; border-collapse: collapse; margin-bottom: 4mm; }
table.study th { font-weight: normal; color: #555; text-align: left; white-space: nowrap; padding: 1mm 2mm 1mm 0; width: 1%; }
table.study td { padding: 1mm 6mm 1mm 0; }
.critical { border: 2px solid #b00000; color: #b00000; padding: 2mm 3mm; margin: 0 0 4mm; font-weight: bold; }
.critical strong { font-size: 13pt; margin-right: 3mm; }
section h2 { font-size: 11.5pt; margin: 5mm 0 1.5mm; border-left: 3px solid #111; padding-left: 2mm; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; min-height: 10mm; }
.signature { display: flex; justify-content: flex-end; gap: 10mm; margin-top: 10mm; border-top: 1px solid #999; padding-top: 2mm; }
.report > footer { margin-top: 6mm; font-size: 8.5pt; color: #555; }
.ecg-sheet { margin: 6mm auto 0; max-width: 297mm; }
.ecg-sheet h2 { font-size: 11pt; margin: 0 0 2mm; }
.ecg-sheet svg { display: block; width: 100%; height: auto; border: 1px solid #ddd; }
@media print {
  .report { padding: 0; }
  .critical { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .ecg-sheet { page: ecg-sheet; break-before: page; margin: 0; max-width: none; }
  .ecg-sheet h2 { display: none; }
  /* True scale: the sheet is drawn in mm, so 297 × 210 mm on paper is 25 mm/s and 10 mm/mV. */
  .ecg-sheet svg { width: 297mm; height: 210mm; border: 0; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;

export function renderReportPrintPage(input: ReportPrintInput): string {
  const language = input.language ?? "zh";
  const labels = LABELS[language];
  if (!labels) throw printError(`language must be "zh" or "en", not ${JSON.stringify(language)}`);
  const { report, study } = input;
  const kind = studyKind(study.modalities);
  const title = labels.title(labels.kinds[kind]);
  const h = escapeXml;
  const or = (value: string | undefined) => (value?.trim() ? value : labels.none);
  const age = study.patient.age?.trim()
    ? formatAge(study.patient.age, language)
    : (() => {
        const years = ageInYears(study.patient.birthDate, study.studyDate);
        return years === undefined ? "" : formatAge(`${years}Y`, language);
      })();
  const studyWhen = [formatDicomDate(study.studyDate), formatDicomTime(study.studyTime)]
    .filter(Boolean)
    .join(" ");
  const rows: Array<[string, string]> = [
    [labels.name, or(formatPersonName(study.patient.name, language))],
    [labels.sex, or(formatSex(study.patient.sex, language))],
    [labels.age, or(age)],
    [labels.patientId, or(study.patient.id)],
    [labels.studyDate, or(studyWhen)],
    [labels.modality, or(study.modalities.join(", "))],
    [labels.accessionNumber, or(study.accessionNumber)],
    [labels.description, or(study.studyDescription)],
  ];
  // Two label/value pairs per table row keep the block short on an A4 page.
  const tableRows: string[] = [];
  for (let i = 0; i < rows.length; i += 2)
    tableRows.push(
      `<tr>${rows
        .slice(i, i + 2)
        .map(([label, value]) => `<th>${h(label)}</th><td>${h(value)}</td>`)
        .join("")}</tr>`,
    );
  const parts = [
    "<!DOCTYPE html>",
    `<html lang="${labels.lang}">`,
    "<head>",
    '<meta charset="utf-8"/>',
    '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
    `<title>${h(title)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    '<article class="report">',
    "<header>",
    `<h1>${h(title)}</h1>`,
    study.site?.trim() ? `<p class="site">${h(study.site)}</p>` : "",
    "</header>",
    `<table class="study"><tbody>${tableRows.join("")}</tbody></table>`,
    report.critical
      ? `<p class="critical" role="alert"><strong>${h(labels.critical)}</strong>${h(labels.criticalHint)}</p>`
      : "",
    `<section class="findings"><h2>${h(labels.findings)}</h2><p class="text">${h(report.findings.trim() || labels.none)}</p></section>`,
    `<section class="impression"><h2>${h(labels.impression)}</h2><p class="text">${h(report.impression.trim() || labels.none)}</p></section>`,
    '<div class="signature">',
    `<span>${h(labels.reportedBy)}: <strong>${h(or(report.reportedBy))}</strong></span>`,
    `<span>${h(labels.reportedAt)}: ${h(formatTimestamp(report.reportedAt, input.timeZone))}</span>`,
    "</div>",
    `<footer>${h(labels.footer)}${report.reportId ? ` ${h(labels.reportId)}: ${h(report.reportId)}` : ""}</footer>`,
    "</article>",
    input.ecgSvg === undefined
      ? ""
      : `<section class="ecg-sheet"><h2>${h(labels.ecgSheet)}</h2>\n${inlineSvg(input.ecgSvg)}\n</section>`,
    "</body>",
    "</html>",
  ];
  return `${parts.filter((part) => part !== "").join("\n")}\n`;
}

function studyKind(modalities: readonly string[]): "ECG" | "US" | "XRAY" | "OTHER" {
  const upper = modalities.map((m) => m.trim().toUpperCase());
  if (upper.includes("ECG")) return "ECG";
  if (upper.includes("US")) return "US";
  if (upper.some((m) => m === "DX" || m === "CR" || m === "DR" || m === "RF")) return "XRAY";
  return "OTHER";
}

/** An ISO 8601 time as "YYYY-MM-DD HH:MM" in the given (or the box's) time zone; anything else as given. */
function formatTimestamp(iso: string, timeZone: string | undefined): string {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return iso || "—";
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(date);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")}`;
}

/**
 * The sheet as inline SVG (its XML declaration dropped). The page has no scripts and must stay
 * that way: the SVG is expected from renderEcgSvg, and anything able to run code is refused.
 */
function inlineSvg(svg: string): string {
  const body = svg.replace(/^\uFEFF?\s*<\?xml[^>]*\?>\s*/, "").trim();
  if (!/^<svg[\s>]/.test(body) || !body.endsWith("</svg>"))
    throw printError("the ECG sheet is not an SVG document (expected the output of renderEcgSvg)");
  if (
    /<(script|foreignObject|iframe)[\s>/]/i.test(body) ||
    /\son[a-z]+\s*=/i.test(body.replace(/>[^<]*</g, "><"))
  )
    throw printError(
      "the ECG sheet contains script or embedded content; refusing to put it in the report page",
    );
  return body;
}

function printError(message: string): DxgateError {
  return new DxgateError("REPORT_PRINT_INVALID", `report page: ${message}`, 400);
}
