/** Every word printed on the sheet, in Chinese (default) and English. */
import type { EcgSourceFormat } from "../ecg-record.ts";
import type { SheetLanguage } from "./display-format.ts";

export interface SheetLabels {
  title: (leadCount: number) => string;
  name: string;
  patientId: string;
  sex: string;
  age: string;
  birthDate: string;
  heightWeight: string;
  acquired: string;
  device: string;
  serialNumber: string;
  institution: string;
  operator: string;
  referringPhysician: string;
  accessionNumber: string;
  heartRate: string;
  heartRateUnit: string;
  rr: string;
  pr: string;
  qrs: string;
  qtQtc: string;
  axes: string;
  statements: string;
  moreStatements: (count: number) => string;
  noStatements: string;
  speed: string;
  gain: string;
  filter: string;
  highPass: string;
  lowPass: string;
  notch: string;
  sampling: string;
  shown: (from: string, to: string, total: string) => string;
  source: string;
  derivedNote: string;
  gapNote: (seconds: string) => string;
  gapMark: string;
  noWaveform: string;
}

export const SHEET_LABELS: Record<SheetLanguage, SheetLabels> = {
  zh: {
    title: (n) => (n === 1 ? "单导联心电图" : `${n}导联心电图`),
    name: "姓名",
    patientId: "ID号",
    sex: "性别",
    age: "年龄",
    birthDate: "出生日期",
    heightWeight: "身高/体重",
    acquired: "采集时间",
    device: "设备",
    serialNumber: "序列号",
    institution: "机构",
    operator: "操作者",
    referringPhysician: "申请医师",
    accessionNumber: "检查号",
    heartRate: "心率",
    heartRateUnit: "次/分",
    rr: "RR间期",
    pr: "PR间期",
    qrs: "QRS时限",
    qtQtc: "QT/QTc",
    axes: "P/QRS/T电轴",
    statements: "设备自动分析（未经医师确认）",
    moreStatements: (n) => `……另有 ${n} 条`,
    noStatements: "（设备未给出自动分析）",
    speed: "走纸速度",
    gain: "增益",
    filter: "滤波",
    highPass: "高通",
    lowPass: "低通",
    notch: "工频陷波",
    sampling: "采样率",
    shown: (from, to, total) => `显示 ${from}–${to} s（共 ${total} s）`,
    source: "来源",
    derivedNote: "* 导出导联：由其他导联计算，非直接测量",
    gapNote: (s) => `灰色区域：传输中丢失的信号（共 ${s} s），该处不是心电活动`,
    gapMark: "缺失",
    noWaveform: "记录中没有波形数据",
  },
  en: {
    title: (n) => (n === 1 ? "Single-lead ECG" : `${n}-lead ECG`),
    name: "Name",
    patientId: "ID",
    sex: "Sex",
    age: "Age",
    birthDate: "Born",
    heightWeight: "Height/weight",
    acquired: "Acquired",
    device: "Device",
    serialNumber: "SN",
    institution: "Institution",
    operator: "Operator",
    referringPhysician: "Referred by",
    accessionNumber: "Accession",
    heartRate: "HR",
    heartRateUnit: "bpm",
    rr: "RR",
    pr: "PR",
    qrs: "QRS",
    qtQtc: "QT/QTc",
    axes: "P/QRS/T axes",
    statements: "Device interpretation (unconfirmed)",
    moreStatements: (n) => `… ${n} more`,
    noStatements: "(no device interpretation)",
    speed: "Speed",
    gain: "Gain",
    filter: "Filter",
    highPass: "high-pass",
    lowPass: "low-pass",
    notch: "notch",
    sampling: "Sampling",
    shown: (from, to, total) => `showing ${from}–${to} s of ${total} s`,
    source: "Source",
    derivedNote: "* derived lead: computed from other leads, not measured",
    gapNote: (s) => `Grey bands: signal lost in transit (${s} s in all), not cardiac activity`,
    gapMark: "gap",
    noWaveform: "The record holds no waveform",
  },
};

const SOURCE_NAMES: Record<EcgSourceFormat, string | Record<SheetLanguage, string>> = {
  "scp-ecg": "SCP-ECG",
  "ecg-stream": { zh: "串口数据流", en: "serial stream" },
  "hl7-aecg": "HL7 aECG",
  "philips-xml": "Philips XML",
  "ge-muse-xml": "GE MUSE XML",
  dicom: "DICOM",
  wfdb: "PhysioNet WFDB",
  synthetic: { zh: "合成测试信号", en: "synthetic test signal" },
};

/** The record's source format as a reader knows it. */
export function sourceFormatName(format: EcgSourceFormat, language: SheetLanguage): string {
  const name = SOURCE_NAMES[format] ?? format;
  return typeof name === "string" ? name : name[language];
}
