/**
 * Test helpers for the ECG XML decoders: a synthetic ECG, an independent LZW/XLI encoder (written
 * from the format description, sharing no code with xli.ts), and builders for small documents of
 * each dialect. Used by the *.test.ts files only.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32 } from "node:zlib";

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** The shared sample corpus (../shared/data/ecg-xml next to the repository), when it is there. */
export const SHARED_ECG_XML = join(REPO_ROOT, "..", "shared", "data", "ecg-xml");

/** `skip` option for tests on the shared corpus: says loudly why they did not run. */
export const SHARED_SKIP = existsSync(SHARED_ECG_XML)
  ? false
  : `SKIPPED: sample corpus not found at ${SHARED_ECG_XML} (tests on real cart exports need ../shared/data)`;

/** Integer samples of a plausible lead: P, QRS and T bumps at 75 bpm, weights per lead. */
export function syntheticLead(
  samples: number,
  rateHz: number,
  weights: { p: number; r: number; t: number },
): Int32Array {
  const out = new Int32Array(samples);
  const beat = 0.8;
  for (let k = 0; k < samples; k++) {
    const t = (k / rateHz) % beat;
    const bump = (centre: number, width: number) => Math.exp(-(((t - centre) / width) ** 2));
    out[k] = Math.round(
      weights.p * bump(0.1, 0.025) + weights.r * bump(0.25, 0.012) + weights.t * bump(0.5, 0.05),
    );
  }
  return out;
}

/** 12 synthetic leads in 5 µV units: I, II and V1–V6 independent, the limb leads by Einthoven/Goldberger. */
export function synthetic12(samples: number, rateHz: number): Map<string, Int32Array> {
  const one = syntheticLead(samples, rateHz, { p: 12, r: 160, t: 40 });
  const two = syntheticLead(samples, rateHz, { p: 20, r: 220, t: 60 });
  const leads = new Map<string, Int32Array>([
    ["I", one],
    ["II", two],
    ["III", one.map((v, k) => (two[k] as number) - v)],
    ["aVR", one.map((v, k) => Math.round(-(v + (two[k] as number)) / 2))],
    ["aVL", one.map((v, k) => Math.round(v - (two[k] as number) / 2))],
    ["aVF", one.map((v, k) => Math.round((two[k] as number) - v / 2))],
  ]);
  [-90, 140, 260, 300, 240, 180].forEach((r, k) => {
    leads.set(`V${k + 1}`, syntheticLead(samples, rateHz, { p: 10, r, t: 50 + 10 * k }));
  });
  return leads;
}

/** Textbook LZW: a Map of strings, fixed 10-bit codes MSB first, end code 1023, no dictionary reset. */
export function lzwEncode(input: Uint8Array): Uint8Array {
  const dictionary = new Map<string, number>();
  for (let b = 0; b < 256; b++) dictionary.set(String.fromCharCode(b), b);
  let nextCode = 256;
  const codes: number[] = [];
  let current = "";
  for (const byte of input) {
    const extended = current + String.fromCharCode(byte);
    if (dictionary.has(extended)) {
      current = extended;
      continue;
    }
    codes.push(dictionary.get(current) as number);
    if (nextCode <= 1022) dictionary.set(extended, nextCode++);
    current = String.fromCharCode(byte);
  }
  if (current) codes.push(dictionary.get(current) as number);
  codes.push(1023);
  const bits = codes.map((code) => code.toString(2).padStart(10, "0")).join("");
  const padded = bits.padEnd(Math.ceil(bits.length / 8) * 8, "0");
  return Uint8Array.from({ length: padded.length / 8 }, (_, k) =>
    Number.parseInt(padded.slice(k * 8, k * 8 + 8), 2),
  );
}

/**
 * One XLI chunk for these samples: inverts s[i] = 2s[i−1] − s[i−2] − c[i] (c[2] in the header,
 * c[i] = value[i−1] − 64 after), splits the 16-bit values into high and low byte planes, LZW.
 */
export function xliChunk(samples: Int32Array): Uint8Array {
  const n = samples.length;
  const s = (k: number) => samples[k] as number;
  const values = new Int16Array(n);
  values[0] = s(0);
  values[1] = s(1);
  const correction = (i: number) => 2 * s(i - 1) - s(i - 2) - s(i);
  for (let i = 3; i < n; i++) values[i - 1] = correction(i) + 64;
  values[n - 1] = 64; // never read back
  const planes = new Uint8Array(2 * n);
  for (let k = 0; k < n; k++) {
    planes[k] = ((values[k] as number) >> 8) & 0xff;
    planes[n + k] = (values[k] as number) & 0xff;
  }
  const compressed = lzwEncode(planes);
  const chunk = new Uint8Array(8 + compressed.length);
  const view = new DataView(chunk.buffer);
  view.setInt32(0, compressed.length, true);
  view.setInt16(4, 1, true);
  view.setInt16(6, n > 2 ? correction(2) : 0, true);
  chunk.set(compressed, 8);
  return chunk;
}

/** Philips' residual form of the limb leads (what a cart stores before compressing). */
export function philipsResiduals(leads: Map<string, Int32Array>): Map<string, Int32Array> {
  const get = (name: string) => leads.get(name) as Int32Array;
  const [one, two, three] = [get("I"), get("II"), get("III")];
  const half = (v: number) => Math.trunc(v / 2);
  const stored = new Map(leads);
  stored.set(
    "III",
    three.map((v, k) => (two[k] as number) - (one[k] as number) - v),
  );
  stored.set(
    "aVR",
    get("aVR").map((v, k) => -v - half((one[k] as number) + (two[k] as number))),
  );
  stored.set(
    "aVL",
    get("aVL").map((v, k) => half((one[k] as number) - (three[k] as number)) - v),
  );
  stored.set(
    "aVF",
    get("aVF").map((v, k) => half((two[k] as number) + (three[k] as number)) - v),
  );
  return stored;
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function base64(bytes: Uint8Array): string {
  // Philips and MUSE wrap base64 lines; the decoders must not care.
  return (
    Buffer.from(bytes)
      .toString("base64")
      .match(/.{1,76}/g) ?? []
  ).join("\r\n");
}

export function int16Bytes(samples: Int32Array): Uint8Array {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  for (const [k, v] of samples.entries()) view.setInt16(k * 2, v, true);
  return bytes;
}

export function utf16leWithBom(text: string): Uint8Array {
  return concatBytes([Uint8Array.of(0xff, 0xfe), new Uint8Array(Buffer.from(text, "utf16le"))]);
}

export const utf8 = (text: string) => new Uint8Array(Buffer.from(text, "utf8"));

/** A small MUSE RestingECG document: 8 stored leads, patient and test demographics, diagnosis. */
export function museDocument(options: {
  rhythm: Map<string, Int32Array>;
  median?: Map<string, Int32Array>;
  corruptCrcOf?: string;
  extraHead?: string;
}): string {
  const leadData = (leads: Map<string, Int32Array>) =>
    [...leads]
      .map(([name, samples]) => {
        const bytes = int16Bytes(samples);
        const crc = crc32(bytes) + (options.corruptCrcOf === name ? 1 : 0);
        return `<LeadData><LeadByteCountTotal>${bytes.length}</LeadByteCountTotal><LeadSampleCountTotal>${samples.length}</LeadSampleCountTotal><LeadAmplitudeUnitsPerBit>4.88</LeadAmplitudeUnitsPerBit><LeadAmplitudeUnits>MICROVOLTS</LeadAmplitudeUnits><LeadID>${name}</LeadID><LeadSampleSize>2</LeadSampleSize><LeadDataCRC32>${crc}</LeadDataCRC32><WaveFormData>${base64(bytes)}</WaveFormData></LeadData>`;
      })
      .join("\n");
  const waveform = (type: string, leads: Map<string, Int32Array>) =>
    `<Waveform><WaveformType>${type}</WaveformType><NumberofLeads>${leads.size}</NumberofLeads><SampleBase>500</SampleBase><SampleExponent>0</SampleExponent><HighPassFilter>56</HighPassFilter><LowPassFilter>40</LowPassFilter><ACFilter>50</ACFilter>${leadData(leads)}</Waveform>`;
  return `<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE RestingECG SYSTEM "restecg.dtd">
<RestingECG>
 <MuseInfo><MuseVersion>8.0.2.10132</MuseVersion></MuseInfo>
 ${options.extraHead ?? ""}
 <PatientDemographics><PatientID>000123</PatientID><PatientAge>45</PatientAge><AgeUnits>YEARS</AgeUnits><DateofBirth>03-15-1979</DateofBirth><Gender>FEMALE</Gender><PatientLastName>Müller</PatientLastName><PatientFirstName>Anna</PatientFirstName><HeightIN>65</HeightIN><WeightLBS>150</WeightLBS></PatientDemographics>
 <TestDemographics><AcquisitionDevice>MAC55</AcquisitionDevice><SiteName>Township HC</SiteName><LocationName>ECG room</LocationName><AcquisitionTime>14:30:05</AcquisitionTime><AcquisitionDate>12-01-2023</AcquisitionDate><AcquisitionSoftwareVersion>010A</AcquisitionSoftwareVersion><AcquisitionTechLastName>Wang</AcquisitionTechLastName><ReferringMDLastName>Li</ReferringMDLastName><ReferringMDFirstName>Wei</ReferringMDFirstName></TestDemographics>
 <RestingECGMeasurements><VentricularRate>75</VentricularRate><PRInterval>150</PRInterval><QRSDuration>90</QRSDuration><QTInterval>380</QTInterval><QTCorrected>424</QTCorrected><PAxis>50</PAxis><RAxis>40</RAxis><TAxis>30</TAxis></RestingECGMeasurements>
 <Diagnosis><Modality>RESTING</Modality>
  <DiagnosisStatement><StmtFlag>USERINSERT</StmtFlag><StmtText>Normal sinus rhythm</StmtText></DiagnosisStatement>
  <DiagnosisStatement><StmtText>with sinus arrhythmia</StmtText><StmtFlag>ENDSLINE</StmtFlag></DiagnosisStatement>
  <DiagnosisStatement><StmtFlag>ENDSLINE</StmtFlag><StmtText>Normal ECG</StmtText></DiagnosisStatement>
 </Diagnosis>
 ${options.median ? waveform("Median", options.median) : ""}
 ${waveform("Rhythm", options.rhythm)}
</RestingECG>
`;
}

/** A small HL7 aECG: rhythm + optional median series, demographics, filters, annotations. */
export function aecgDocument(options: {
  rhythm: { name: string; digits: Int32Array }[];
  rateIncrement?: string;
  scale?: string;
  origin?: string;
  valueType?: string;
  median?: { name: string; digits: Int32Array }[];
}): string {
  const sequences = (leads: { name: string; digits: Int32Array }[], time: string) =>
    `<sequenceSet>
      <component><sequence><code code="${time}" codeSystem="2.16.840.1.113883.5.4"/>
        <value xsi:type="${time === "TIME_ABSOLUTE" ? "GLIST_TS" : "GLIST_PQ"}"><head value="${time === "TIME_ABSOLUTE" ? "20240305081502.000" : "0"}" unit="s"/>${options.rateIncrement ?? '<increment value="0.002" unit="s"/>'}</value></sequence></component>
      ${leads
        .map(
          (
            lead,
          ) => `<component><sequence><code code="MDC_ECG_LEAD_${lead.name}" codeSystem="2.16.840.1.113883.6.24"/>
        <value xsi:type="${options.valueType ?? "SLIST_PQ"}">${options.origin ?? '<origin value="0" unit="uV"/>'}${options.scale ?? '<scale value="5" unit="uV"/>'}<digits>${Array.from(lead.digits).join(" ")}</digits></value></sequence></component>`,
        )
        .join("\n")}
    </sequenceSet>`;
  const median = options.median
    ? `<derivation><derivedSeries><code code="REPRESENTATIVE_BEAT" codeSystem="2.16.840.1.113883.5.4"/>
        <component>${sequences(options.median, "TIME_RELATIVE")}</component>
        <subjectOf><annotationSet>
          <component><annotation><code code="MDC_ECG_HEART_RATE"/><value xsi:type="PQ" value="72" unit="bpm"/></annotation></component>
          <component><annotation><code code="MDC_ECG_TIME_PD_QRS"/><value xsi:type="PQ" value="0.094" unit="s"/></annotation></component>
          <component><annotation><code code="MDC_ECG_TIME_PD_QTc_BAZETT"/><value xsi:type="PQ" value="412" unit="ms"/></annotation></component>
        </annotationSet></subjectOf>
      </derivedSeries></derivation>`
    : "";
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by the dxgate test suite -->
<AnnotatedECG xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" type="Observation">
  <id root="1.2.3"/>
  <effectiveTime><low value="20240305081502"/><high value="20240305081512"/></effectiveTime>
  <componentOf><timepointEvent><componentOf><subjectAssignment><subject><trialSubject>
    <id root="1.2.3.4" extension="0042"/>
    <subjectDemographicPerson><name><family>张</family><given>伟</given></name><administrativeGenderCode code="F"/><birthTime value="19800214"/></subjectDemographicPerson>
  </trialSubject></subject></subjectAssignment></componentOf></timepointEvent></componentOf>
  <controlVariable><relatedObservation><code code="21612-7" codeSystem="2.16.840.1.113883.6.1"/><value xsi:type="PQ" value="44" unit="a"/></relatedObservation></controlVariable>
  <component><series>
    <code code="RHYTHM" codeSystem="2.16.840.1.113883.5.4"/>
    <author><seriesAuthor><manufacturedSeriesDevice><id extension="SN-77"/><manufacturerModelName>ECG-1200</manufacturerModelName><softwareName>2.1</softwareName></manufacturedSeriesDevice><manufacturerOrganization><name>Acme Medical</name></manufacturerOrganization></seriesAuthor></author>
    <secondaryPerformer><seriesPerformer><id extension="T-9"/></seriesPerformer></secondaryPerformer>
    <controlVariable><controlVariable><code code="MDC_ECG_CTL_VBL_ATTR_FILTER_HIGH_PASS"/><component><controlVariable><code code="MDC_ECG_CTL_VBL_ATTR_FILTER_CUTOFF_FREQ"/><value xsi:type="PQ" value="0.05" unit="Hz"/></controlVariable></component></controlVariable></controlVariable>
    <controlVariable><controlVariable><code code="MDC_ECG_CTL_VBL_ATTR_FILTER_LOW_PASS"/><component><controlVariable><code code="MDC_ECG_CTL_VBL_ATTR_FILTER_CUTOFF_FREQ"/><value xsi:type="PQ" value="150" unit="Hz"/></controlVariable></component></controlVariable></controlVariable>
    <component>${sequences(options.rhythm, "TIME_ABSOLUTE")}</component>
    <subjectOf><annotationSet>
      <component><annotation><code code="MDC_ECG_BEAT"/><value xsi:type="CE" code="MDC_ECG_BEAT_NORMAL"/>
        <component><annotation><code code="MDC_ECG_TIME_PD_QRS"/><value xsi:type="PQ" value="200" unit="ms"/></annotation></component>
      </annotation></component>
      <component><annotation><code code="MDC_ECG_TIME_PD_QRS"/><value xsi:type="PQ" value="96" unit="ms"/></annotation></component>
      <component><annotation><code code="MDC_ECG_TIME_PD_PR"/><value xsi:type="PQ" value="160" unit="ms"/></annotation></component>
      <component><annotation><code code="MDC_ECG_INTERPRETATION"/>
        <component><annotation><code code="MDC_ECG_INTERPRETATION_STATEMENT"/><value xsi:type="ST">窦性心律</value></annotation></component>
        <component><annotation><code code="MDC_ECG_INTERPRETATION_STATEMENT"/><value xsi:type="ST">Left axis deviation</value></annotation></component>
        <component><annotation><code code="MDC_ECG_INTERPRETATION_SUMMARY"/><value xsi:type="CE" code="ABN" displayName="Abnormal ECG"/></annotation></component>
      </annotation></component>
    </annotationSet></subjectOf>
    ${median}
  </series></component>
</AnnotatedECG>
`;
}

/** A small PhilipsECG 1.04.01 document around a parsedwaveforms element (attributes and body given). */
export function philipsDocument(options: { parsedwaveforms: string; repbeats?: string }): string {
  return `<?xml version="1.0" encoding="utf-16"?>
<restingecgdata xmlns="http://www3.medical.philips.com" status="New" lang="en">
  <documentinfo><documentname>x.xml</documentname><documenttype>PhilipsECG</documenttype><documentversion>1.04.01</documentversion></documentinfo>
  <orderinfo priority=""><ordernumber>ACC-2024-0007</ordernumber><uniqueorderid /></orderinfo>
  <reportinfo date="2024-03-05" time="08:15:02"><reportbandwidth><highpassfiltersetting>0.15</highpassfiltersetting><lowpassfiltersetting>40</lowpassfiltersetting><notchfiltersetting>50</notchfiltersetting></reportbandwidth></reportinfo>
  <dataacquisition date="2024-03-05" time="08:15:02">
    <machine machineid="CN1234" detaildescription="Philips Medical Products:860315:A.07.07.07">PageWriter TC</machine>
    <acquirer><operator id="TECH7">Zhou</operator><departmentname>心电图室</departmentname><institutionname>镇卫生院</institutionname><referringclinician id="D1">Dr Chen</referringclinician></acquirer>
    <signalcharacteristics><samplingrate>500</samplingrate><resolution>5</resolution><acquisitiontype>10-WIRE</acquisitiontype><numberchannelsallocated>12</numberchannelsallocated><numberchannelsvalid>12</numberchannelsvalid></signalcharacteristics>
  </dataacquisition>
  <patient criteriaversionforpatientdata="0B"><generalpatientdata>
    <patientid>P000777</patientid><name><lastname>李</lastname><firstname>娜</firstname></name>
    <age><years>61</years></age><pacestatus>Unknown</pacestatus><sex>Female</sex>
    <height><cm>158</cm></height><weight><lb>132</lb></weight>
  </generalpatientdata></patient>
  <interpretations><interpretation date="2024-03-05" time="08:15:02">
    <globalmeasurements><heartrate>75</heartrate><rrint>800</rrint><print>Failed</print><qrsdur>92</qrsdur><qtint>380</qtint><qtcb>424</qtcb><pfrontaxis>45</pfrontaxis><qrsfrontaxis>30</qrsfrontaxis><tfrontaxis>20</tfrontaxis></globalmeasurements>
    <mdsignatureline>Unconfirmed Diagnosis</mdsignatureline>
    <severity code="NO">- NORMAL ECG -</severity>
    <statement><statementcode>SR</statementcode><leftstatement>Sinus rhythm</leftstatement><rightstatement>V-rate 50-99</rightstatement></statement>
    <statement><statementcode /><leftstatement>Normal ECG</leftstatement><rightstatement /></statement>
  </interpretation></interpretations>
  <waveforms>
    ${options.parsedwaveforms}
    ${options.repbeats ?? ""}
  </waveforms>
</restingecgdata>
`;
}
