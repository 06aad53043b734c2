/**
 * SCP-ECG lead identification codes (section 3; EN 1064 Table 5, the same numbering as the MDC ECG
 * lead codes of ISO/IEEE 11073-10101) and our lead names. The standard 12 use EcgRecord's spelling
 * ("aVR"); 31–60 and the other "d" codes are the derived variants the standard defines ("dV1").
 */

// biome-ignore format: ten codes a line, as the standard's table counts them
const NAMES: readonly string[] = [
  "unspecified", "I", "II", "V1", "V2", "V3", "V4", "V5", "V6", "V7",
  "V2R", "V3R", "V4R", "V5R", "V6R", "V7R", "X", "Y", "Z", "CC5",
  "CM5", "LA", "RA", "LL", "fI", "fE", "fC", "fA", "fM", "fF",
  "fH", "dI", "dII", "dV1", "dV2", "dV3", "dV4", "dV5", "dV6", "dV7",
  "dV2R", "dV3R", "dV4R", "dV5R", "dV6R", "dV7R", "dX", "dY", "dZ", "dCC5",
  "dCM5", "dLA", "dRA", "dLL", "dfI", "dfE", "dfC", "dfA", "dfM", "dfF",
  "dfH", "III", "aVR", "aVL", "aVF", "-aVR", "V8", "V9", "V8R", "V9R",
  "D", "A", "J", "Defib", "Extern", "A1", "A2", "A3", "A4", "dV8",
  "dV9", "dV8R", "dV9R", "dD", "dA", "dJ", "Chest", "V", "VR", "VL",
  "VF", "MCL", "MCL1", "MCL2", "MCL3", "MCL4", "MCL5", "MCL6", "CC", "CC1",
  "CC2", "CC3", "CC4", "CC6", "CC7", "CM", "CM1", "CM2", "CM3", "CM4",
  "CM6", "dIII", "daVR", "daVL", "daVF", "d-aVR", "dChest", "dV", "dVR", "dVL",
  "dVF", "CM7", "CH5", "CS5", "CB5", "CR5", "ML", "AB1", "AB2", "AB3",
  "AB4", "ES", "AS", "AI", "S", "dDefib", "dExtern", "dA1", "dA2", "dA3",
  "dA4", "dMCL1", "dMCL2", "dMCL3", "dMCL4", "dMCL5", "dMCL6", "RL", "CV5RL", "CV6LL",
  "CV6LU", "V10",
];

const CODES = new Map<string, number>(NAMES.map((name, code) => [name.toLowerCase(), code]));

/** Our name for an SCP lead code; codes the table does not know keep their number ("SCP lead 200"). */
export function leadName(code: number): string {
  return NAMES[code] ?? `SCP lead ${code}`;
}

/** The SCP code for a lead name (case-insensitive); 0 (unspecified) for names SCP has no code for. */
export function leadCode(name: string): number {
  const known = CODES.get(name.trim().toLowerCase());
  if (known !== undefined) return known;
  const numbered = /^SCP lead (\d{1,3})$/.exec(name.trim());
  return numbered ? Number(numbered[1]) & 0xff : 0;
}
