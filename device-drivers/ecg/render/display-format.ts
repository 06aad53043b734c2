/**
 * How the sheet and the printed report show DICOM-style patient values (PN, AS, DA, TM, sex codes)
 * to a reader, in Chinese or English. Values that do not follow the DICOM form are shown as they
 * came rather than dropped: carts send odd dates, and a reader seeing "1998.1.1" is better served
 * than one seeing nothing.
 */

export type SheetLanguage = "zh" | "en";

const CJK = /[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]/u;

/**
 * A DICOM person name (`Family^Given^Middle^Prefix^Suffix`, up to three `=` groups: alphabetic,
 * ideographic, phonetic) as one readable name. Chinese readers get the ideographic group when
 * there is one; components of a CJK name are joined without spaces (王^小东 → 王小东).
 */
export function formatPersonName(name: string | undefined, language: SheetLanguage): string {
  if (!name) return "";
  const groups = name.split("=").map((group) => group.trim());
  const ordered = language === "zh" ? [groups[1], groups[0], groups[2]] : [groups[0], groups[1], groups[2]];
  const group = ordered.find((g) => g && g.replaceAll("^", "").trim() !== "") ?? "";
  const parts = group
    .split("^")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  // DICOM order is Family^Given; a Latin name reads "Given Family" only by convention we cannot
  // know here, so keep the recorded order (Chinese readers expect family first anyway).
  return parts.join(CJK.test(group) ? "" : " ");
}

const SEX: Record<SheetLanguage, Record<string, string>> = {
  zh: { M: "男", F: "女", O: "其他" },
  en: { M: "Male", F: "Female", O: "Other" },
};

/** DICOM sex code (M, F, O) in words; anything else as given. */
export function formatSex(sex: string | undefined, language: SheetLanguage): string {
  if (!sex) return "";
  return SEX[language][sex.trim().toUpperCase()] ?? sex;
}

const AGE_UNITS: Record<SheetLanguage, Record<string, string>> = {
  zh: { Y: "岁", M: "个月", W: "周", D: "天" },
  en: { Y: " y", M: " mo", W: " wk", D: " d" },
};

/** DICOM AS (`045Y`, `006M`) as "45岁" / "45 y"; anything else as given. */
export function formatAge(age: string | undefined, language: SheetLanguage): string {
  if (!age) return "";
  const match = /^(\d{1,3})([YMWD])$/i.exec(age.trim());
  if (!match) return age;
  return `${Number(match[1])}${AGE_UNITS[language][match[2]!.toUpperCase()]}`;
}

/**
 * Whole years between a DICOM DA birth date and a DICOM DA date (the acquisition), for a record
 * that gives a birth date but no age. Undefined when either date is not a valid YYYYMMDD.
 */
export function ageInYears(birthDate: string | undefined, onDate: string | undefined): number | undefined {
  const birth = parseDicomDate(birthDate);
  const on = parseDicomDate(onDate);
  if (!birth || !on) return undefined;
  let years = on.year - birth.year;
  if (on.month < birth.month || (on.month === birth.month && on.day < birth.day)) years--;
  return years >= 0 && years < 150 ? years : undefined;
}

function parseDicomDate(value: string | undefined): { year: number; month: number; day: number } | undefined {
  const match = value ? /^(\d{4})(\d{2})(\d{2})$/.exec(value.trim()) : null;
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  return { year, month, day };
}

/** DICOM DA (YYYYMMDD, or the old YYYY.MM.DD) as YYYY-MM-DD; anything else as given. */
export function formatDicomDate(date: string | undefined): string {
  if (!date) return "";
  const match = /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(date.trim());
  return match ? `${match[1]}-${match[2]}-${match[3]}` : date;
}

/** DICOM TM (HHMMSS.ffffff, HHMM, HH, or the old HH:MM:SS) as HH:MM:SS / HH:MM; anything else as given. */
export function formatDicomTime(time: string | undefined): string {
  if (!time) return "";
  const match = /^(\d{2}):?(\d{2})?(?::?(\d{2}))?(?:\.\d+)?$/.exec(time.trim());
  if (!match) return time;
  return [match[1], match[2] ?? "00", match[3]].filter((part) => part !== undefined).join(":");
}
