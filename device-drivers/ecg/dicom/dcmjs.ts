/**
 * The slice of dcmjs this folder uses (dcmjs ships no type declarations), and the tags it touches,
 * named by keyword. dcmjs holds a dataset as an object keyed by upper-case hex tag ("003A0005"),
 * each element `{ vr, Value }`; it writes the keys sorted as strings, which is tag order only if
 * every key has the same case, hence one table of upper-case tags here.
 */
import { createRequire } from "node:module";

export interface DcmjsElement {
  vr: string;
  Value?: unknown[];
  /** dcmjs keeps the value as read before its own conversions (e.g. the original character set). */
  _rawValue?: unknown;
}

export type DcmjsDataset = Record<string, DcmjsElement>;

interface DcmjsModule {
  data: {
    DicomDict: new (meta: DcmjsDataset) => { dict: DcmjsDataset; write(): ArrayBuffer };
    DicomMessage: { readFile(buffer: ArrayBuffer): { meta: DcmjsDataset; dict: DcmjsDataset } };
  };
  log: { setLevel(level: string): void; getLogger(name: string): { setLevel(level: string): void } };
}

const require = createRequire(import.meta.url);
const dcmjs = require("dcmjs") as DcmjsModule;

// dcmjs logs parse oddities (e.g. "Invalid vr type ox" for Waveform Data read in Implicit VR) to
// the console; what matters is reported through our own errors and notes.
dcmjs.log.setLevel("silent");
dcmjs.log.getLogger("validation.dcmjs").setLevel("silent");

/** Preamble, "DICM", the File Meta group (dcmjs computes its group length) and the dataset. */
export function writePart10(meta: DcmjsDataset, dataset: DcmjsDataset): Uint8Array {
  const dict = new dcmjs.data.DicomDict(meta);
  dict.dict = dataset;
  return new Uint8Array(dict.write());
}

/** Parse a Part 10 file; throws whatever dcmjs throws on bytes it cannot read. */
export function readPart10(bytes: Uint8Array): { meta: DcmjsDataset; dataset: DcmjsDataset } {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const { meta, dict } = dcmjs.data.DicomMessage.readFile(buffer);
  return { meta, dataset: dict };
}

export const TAG = {
  // File Meta Information (PS3.10 7.1)
  FileMetaInformationVersion: "00020001",
  MediaStorageSOPClassUID: "00020002",
  MediaStorageSOPInstanceUID: "00020003",
  TransferSyntaxUID: "00020010",
  ImplementationClassUID: "00020012",
  ImplementationVersionName: "00020013",
  // SOP Common, General Study/Series/Equipment, Patient, Patient Study, Waveform Identification
  SpecificCharacterSet: "00080005",
  InstanceCreationDate: "00080012",
  InstanceCreationTime: "00080013",
  SOPClassUID: "00080016",
  SOPInstanceUID: "00080018",
  StudyDate: "00080020",
  SeriesDate: "00080021",
  ContentDate: "00080023",
  AcquisitionDateTime: "0008002A",
  StudyTime: "00080030",
  SeriesTime: "00080031",
  ContentTime: "00080033",
  AccessionNumber: "00080050",
  Modality: "00080060",
  Manufacturer: "00080070",
  InstitutionName: "00080080",
  ReferringPhysicianName: "00080090",
  CodeValue: "00080100",
  CodingSchemeDesignator: "00080102",
  CodeMeaning: "00080104",
  TimezoneOffsetFromUTC: "00080201",
  StationName: "00081010",
  StudyDescription: "00081030",
  SeriesDescription: "0008103E",
  InstitutionalDepartmentName: "00081040",
  OperatorsName: "00081070",
  ManufacturerModelName: "00081090",
  PatientName: "00100010",
  PatientID: "00100020",
  PatientBirthDate: "00100030",
  PatientSex: "00100040",
  PatientAge: "00101010",
  PatientSize: "00101020",
  PatientWeight: "00101030",
  DeviceSerialNumber: "00181000",
  SoftwareVersions: "00181020",
  StudyInstanceUID: "0020000D",
  SeriesInstanceUID: "0020000E",
  StudyID: "00200010",
  SeriesNumber: "00200011",
  InstanceNumber: "00200013",
  ScheduledProcedureStepID: "00400009",
  RequestAttributesSequence: "00400275",
  AcquisitionContextSequence: "00400555",
  MeasurementUnitsCodeSequence: "004008EA",
  RequestedProcedureID: "00401001",
  // Waveform Annotation (PS3.3 C.10.10)
  ReferencedWaveformChannels: "0040A0B0",
  ReferencedSamplePositions: "0040A132",
  TemporalRangeType: "0040A130",
  ConceptNameCodeSequence: "0040A043",
  AnnotationGroupNumber: "0040A180",
  NumericValue: "0040A30A",
  WaveformAnnotationSequence: "0040B020",
  UnformattedTextValue: "00700006",
  // Waveform (PS3.3 C.10.9)
  WaveformOriginality: "003A0004",
  NumberOfWaveformChannels: "003A0005",
  NumberOfWaveformSamples: "003A0010",
  SamplingFrequency: "003A001A",
  MultiplexGroupLabel: "003A0020",
  ChannelDefinitionSequence: "003A0200",
  ChannelLabel: "003A0203",
  ChannelSourceSequence: "003A0208",
  ChannelDerivationDescription: "003A020C",
  ChannelSensitivity: "003A0210",
  ChannelSensitivityUnitsSequence: "003A0211",
  ChannelSensitivityCorrectionFactor: "003A0212",
  ChannelBaseline: "003A0213",
  ChannelTimeSkew: "003A0214",
  ChannelSampleSkew: "003A0215",
  WaveformBitsStored: "003A021A",
  FilterLowFrequency: "003A0220",
  FilterHighFrequency: "003A0221",
  NotchFilterFrequency: "003A0222",
  WaveformSequence: "54000100",
  WaveformBitsAllocated: "54001004",
  WaveformSampleInterpretation: "54001006",
  WaveformPaddingValue: "5400100A",
  WaveformData: "54001010",
} as const;
