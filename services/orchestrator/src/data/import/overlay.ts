// What this import has done to annotations so far, in memory: which exist now, their frame range
// and track key, and the line that created them. Later lines and batches decide from it rather
// than from the database, so a preview (which writes nothing) decides exactly as the import would,
// and a batch needs no read of what earlier batches wrote.
import type { AnnotationDoc } from "../model.ts";
import { rangesOverlap, trackKeyOf } from "../tracks.ts";
import { byFirstFrame, type FrameRange, type TrackRange } from "./conflict-rules.ts";

export interface OverlayEntry {
  exists: boolean;
  /** The track key: tracks of one key must not overlap. */
  group?: string;
  range?: FrameRange;
  /** The line that created it, when this import did. */
  line?: number;
  datasetId: string;
}

/** An annotation's state as a line sees it: the overlay's entry, else the stored document's. */
export interface AnnotationPresence {
  exists: boolean;
  datasetId?: string;
  line?: number;
}

const ABSENT: AnnotationPresence = { exists: false };

/** A batch's view of the annotations it reads and writes. */
export interface BatchDocs {
  /** Stored documents the batch read, with the batch in flight in their place. */
  full: Map<string, AnnotationDoc>;
  /** What the batch decided so far: the new document, or null for one it deletes. */
  work: Map<string, AnnotationDoc | null>;
}

export const groupKey = (doc: AnnotationDoc): string => doc.trackKey ?? trackKeyOf(doc);

export class ImportOverlay {
  private readonly entries = new Map<string, OverlayEntry>();
  /** Ids per track key, for the overlap checks of later lines. */
  private readonly groups = new Map<string, Set<string>>();

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get(id: string): OverlayEntry | undefined {
    return this.entries.get(id);
  }

  /** The ids this import has put under a track key. */
  group(key: string): Set<string> | undefined {
    return this.groups.get(key);
  }

  /** Records an annotation's new state. */
  touch(id: string, entry: OverlayEntry): void {
    const previous = this.entries.get(id);
    if (previous?.group && previous.group !== entry.group) this.groups.get(previous.group)?.delete(id);
    this.entries.set(id, entry);
    if (entry.group) {
      let set = this.groups.get(entry.group);
      if (!set) {
        set = new Set();
        this.groups.set(entry.group, set);
      }
      set.add(id);
    }
  }

  /** Whether an annotation exists now, whose it is, and the line of this import that created it. */
  presence(id: string, docs: BatchDocs): AnnotationPresence {
    const entry = this.entries.get(id);
    if (entry) return entry;
    const found = docs.full.get(id);
    return found ? { exists: true, datasetId: found.datasetId } : ABSENT;
  }

  /** An annotation as this batch has left it so far (undefined: none, or not read). */
  current(id: string, docs: BatchDocs): AnnotationDoc | undefined {
    if (docs.work.has(id)) return docs.work.get(id) ?? undefined;
    const entry = this.entries.get(id);
    if (entry && !entry.exists) return undefined;
    return docs.full.get(id);
  }

  /**
   * The tracks `id` would overlap at `range` under track key `group`, sorted by `byFirstFrame`:
   * stored ones this import has not touched (`stored`), and the ones the overlay knows.
   */
  overlapping(id: string, group: string, range: FrameRange, stored: readonly TrackRange[] | undefined): TrackRange[] {
    const others: TrackRange[] = [];
    for (const c of stored ?? []) {
      if (c.id !== id && !this.entries.has(c.id) && rangesOverlap(c.range, range)) others.push(c);
    }
    for (const otherId of this.groups.get(group) ?? []) {
      const entry = this.entries.get(otherId);
      if (otherId !== id && entry?.exists && entry.range && rangesOverlap(entry.range, range)) {
        others.push({ id: otherId, range: entry.range });
      }
    }
    others.sort(byFirstFrame);
    return others;
  }
}

/** The overlay entry of a document as it is now; the creating line is added by the caller. */
export function entryOf(doc: AnnotationDoc): OverlayEntry {
  const entry: OverlayEntry = { exists: true, group: groupKey(doc), datasetId: doc.datasetId };
  if (doc.frameRange) entry.range = doc.frameRange;
  return entry;
}
