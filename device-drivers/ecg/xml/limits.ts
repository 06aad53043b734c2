/**
 * How much one ECG XML file may ask of the box (a Raspberry-Pi-class machine). Real exports are far
 * below: a 10-s 12-lead HL7 aECG is 0.5 MB, a Philips or MUSE file 60–250 KB.
 */

/** Largest file accepted: 32 MiB (a 10-minute 12-lead aECG at 500 Hz is about 30 MB of digits). */
export const MAX_XML_BYTES = 32 * 1024 * 1024;

/** Most leads in one waveform (12 standard + extras such as V7–V9, V3R–V5R, X/Y/Z fit well within). */
export const MAX_LEADS = 32;

/** Most samples in one lead: 20 minutes at 1 kHz. */
export const MAX_SAMPLES_PER_LEAD = 1_200_000;

/** Most samples in one waveform, all leads together (32 MB as Int32). */
export const MAX_SAMPLES_PER_WAVEFORM = 8_000_000;
