// The exact size of the whole-export ZIP downloads stream (downloads.ts: yazl, every entry added
// with its size and stored, end() with forceZip64Format), added up entry by entry so an export of
// a million files is sized without a million entries in memory. The constants and the rule for
// when an entry needs ZIP64 fields are yazl's (calculateTotalSize); zip-size.test.ts holds the
// two to the same numbers.

const LOCAL_FILE_HEADER = 30;
const DATA_DESCRIPTOR = 16;
const ZIP64_DATA_DESCRIPTOR = 24;
const CENTRAL_DIRECTORY_RECORD = 46;
/** yazl writes the Info-ZIP universal timestamp for every entry. */
const TIMESTAMP_EXTRA_FIELD = 9;
const ZIP64_EXTRA_FIELD = 28;
/** ZIP64 end of central directory record and locator, then the classic record; no comment. */
const END_RECORDS = 56 + 20 + 22;

export interface StoredZipSize {
  /** The next entry, in the order the ZIP holds them. */
  add(name: string, size: number): void;
  total(): number;
  /**
   * True when the total is the same whatever the order the entries were added in: no entry
   * starts past 4 GiB (where yazl gives it ZIP64 fields) in any order.
   */
  sameInAnyOrder(): boolean;
}

export function storedZipSize(): StoredZipSize {
  let cursor = 0;
  let centralDirectory = 0;
  return {
    add(name, size) {
      const nameBytes = Buffer.byteLength(name, "utf8");
      const zip64 = size > 0xfffffffe || cursor > 0xfffffffe;
      cursor += LOCAL_FILE_HEADER + nameBytes + size + (zip64 ? ZIP64_DATA_DESCRIPTOR : DATA_DESCRIPTOR);
      centralDirectory +=
        CENTRAL_DIRECTORY_RECORD + nameBytes + TIMESTAMP_EXTRA_FIELD + (zip64 ? ZIP64_EXTRA_FIELD : 0);
    },
    total: () => cursor + centralDirectory + END_RECORDS,
    // Every entry starts before the sum of the others' local bytes, below the last entry's end.
    sameInAnyOrder: () => cursor <= 0xfffffffe,
  };
}
