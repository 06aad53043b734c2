/**
 * Byte ranges `[start, end)` of one instance: what the county holds and what the box still has to
 * send. Both ends use these, so "held" means the same thing on either side.
 */

export type ByteRange = readonly [start: number, end: number];

/** Sorted, non-overlapping, non-adjacent ranges, empty ones dropped. */
export function mergeRanges(ranges: Iterable<ByteRange>): Array<[number, number]> {
  const sorted = [...ranges].filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: Array<[number, number]> = [];
  for (const [start, end] of sorted) {
    const last = merged.at(-1);
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

/** The parts of `[0, size)` not covered by `held` (held ranges outside it are ignored). */
export function missingRanges(size: number, held: Iterable<ByteRange>): Array<[number, number]> {
  const missing: Array<[number, number]> = [];
  let position = 0;
  for (const [start, end] of mergeRanges(held)) {
    if (start >= size) break;
    if (start > position) missing.push([position, start]);
    position = Math.max(position, Math.min(end, size));
  }
  if (position < size) missing.push([position, size]);
  return missing;
}

/** Bytes covered by `ranges` (after merging). */
export function coveredBytes(ranges: Iterable<ByteRange>): number {
  return mergeRanges(ranges).reduce((sum, [s, e]) => sum + (e - s), 0);
}

/**
 * Split ranges into pieces of at most `chunkSize` bytes, aligned to multiples of `chunkSize` from the
 * start of the file where possible (so a resumed transfer's chunks line up with a full one's).
 */
export function* chunkRanges(
  ranges: Iterable<ByteRange>,
  chunkSize: number,
): Generator<[offset: number, length: number]> {
  for (const [start, end] of ranges) {
    let offset = start;
    while (offset < end) {
      const boundary = (Math.floor(offset / chunkSize) + 1) * chunkSize;
      const next = Math.min(end, boundary);
      yield [offset, next - offset];
      offset = next;
    }
  }
}
