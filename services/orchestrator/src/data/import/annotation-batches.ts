// Video track lines (jsonl, json), a batch at a time: validated, looked up together
// (annotation-lookups.ts), then decided one by one in file order under the conflict policies
// (missing dependencies, duplicate ids, overlapping frames), each decision recorded in the overlay
// so the next line sees it, and the batch's documents staged for the writer.
import type { Db } from "mongodb";
import { publicId, storedId } from "../ids.ts";
import type { AnnotationDoc, DatasetDoc, ItemDoc, PersonaDoc } from "../model.ts";
import { Collections } from "../model.ts";
import { parseAnnotationLine } from "./annotation-line.ts";
import { type AnnotationBatchDocs, AnnotationLookups, type ParsedLine } from "./annotation-lookups.ts";
import type { BatchWrites } from "./batch-writes.ts";
import {
  duplicateAnnotationMessage,
  type FrameRange,
  mergedTrack,
  overlapMessage,
  replacingTrack,
  type TrackRange,
  trimmedRange,
  trimmedTrack,
  unionRange,
} from "./conflict-rules.ts";
import type { ImportOptions } from "./options.ts";
import { type BatchDocs, entryOf, groupKey, ImportOverlay } from "./overlay.ts";
import type { RawRecord } from "./reader.ts";
import type { RunState } from "./run-state.ts";
import { type BatchWrite, emptyBatch, stage } from "./writer.ts";

export class AnnotationBatches {
  private readonly overlay = new ImportOverlay();
  private readonly lookups: AnnotationLookups;

  constructor(
    db: Db,
    private readonly dataset: DatasetDoc,
    private readonly options: ImportOptions,
    private readonly state: RunState,
    private readonly writes: BatchWrites,
  ) {
    this.lookups = new AnnotationLookups(db, dataset._id, writes, this.overlay);
  }

  async import(records: RawRecord[]): Promise<void> {
    const { dataset, options, state } = this;
    const parsed = await state.validate(
      records,
      (value) =>
        parseAnnotationLine(value, {
          requireKeyframes: options.validation.requireKeyframes,
          now: state.now,
          datasetId: dataset._id,
        }),
      () => state.skipped.annotations++,
    );
    if (parsed.length === 0 || state.stopped) return;
    await this.writes.beforeLookups();
    const docs = await this.lookups.lookUp(parsed, options.conflictResolution.overlappingFrames);
    const batch = emptyBatch();
    for (const p of parsed) {
      await this.decide(p, docs, batch);
      if (state.stopped) break;
    }
    if (this.writes.dry) return;
    // `full` still holds every document as the lookups read it: each one's before-image.
    for (const [id, doc] of docs.work) stage(batch, Collections.annotations, id, docs.full.get(id) ?? null, doc);
    this.writes.start(batch);
  }

  /**
   * One line under the conflict policies, in file order. No closures here: under tsx (keepNames)
   * each one costs a defineProperty per line.
   */
  private async decide(
    { line, value: parsed }: ParsedLine,
    docs: AnnotationBatchDocs,
    batch: BatchWrite,
  ): Promise<void> {
    const { dataset, state, overlay } = this;
    const { accounting } = state;
    const { duplicateIds, overlappingFrames, missingDependencies } = this.options.conflictResolution;
    const doc = parsed.doc;
    // Documents are keyed by their stored ids; reports name the public ones (data/ids.ts).
    const id = doc._id;
    const shownId = publicId(dataset._id, id);

    // Dependencies: the video (an item of this dataset) and the persona.
    const videoMissing = !this.lookups.videos.get(doc.itemId);
    const personaMissing = !!doc.personaId && !this.lookups.personas.get(doc.personaId);
    if ((videoMissing || personaMissing) && missingDependencies !== "create") {
      const [name, missingId, field] = videoMissing
        ? ["Video", doc.itemId, "videoId"]
        : ["Persona", doc.personaId as string, "personaId"];
      // `skip` keeps the import going; the annotation is still lost, not left out as asked.
      accounting.drop(videoMissing ? "missing video" : "missing persona");
      if (missingDependencies === "fail") {
        await state.stop(line, "missing_dependency", `${name} "${missingId}" not found`, field, shownId);
        return;
      }
      const message = `${name} "${missingId}" not found; annotation skipped`;
      state.warn(line, { type: "missing_dependency", field, message }, shownId);
      state.skipped.annotations++;
      return;
    }

    // Duplicate ids: the line's track may replace or join the one already there.
    let final: AnnotationDoc | undefined = doc;
    let finalRange = doc.frameRange as FrameRange;
    let duplicateHandled = false;
    const dup = overlay.presence(id, docs);
    if (dup.exists) {
      const message = duplicateAnnotationMessage(dup.line);
      state.issues.conflicts.add({ type: "duplicate_id", annotationId: shownId, message, line });
      if (duplicateIds === "skip") {
        state.skipped.annotations++;
        accounting.skipped++;
        return;
      }
      if (duplicateIds === "fail") {
        accounting.drop("duplicate id");
        await state.stop(line, "conflict", `Duplicate annotation ID "${shownId}"`, "id", shownId);
        return;
      }
      duplicateHandled = true;
      const existing = overlay.current(id, docs);
      if (duplicateIds === "overwrite") {
        if (existing && !parsed.createdAtGiven) final = replacingTrack(doc, existing);
      } else if (existing?.boxSequence) {
        final = mergedTrack(existing, doc.boxSequence?.boxes ?? [], state.now);
        finalRange = final.frameRange as FrameRange;
      } else {
        // A merge with a track known by its range only (preview), or gone from this batch.
        const existingRange = overlay.get(id)?.range ?? existing?.frameRange;
        final = existing ? replacingTrack(doc, existing) : undefined;
        if (existingRange) finalRange = unionRange(existingRange, finalRange);
      }
    }

    // Who made it when the line names nobody: the maker of the track it replaces, else the importer.
    if (final && final.createdBy === undefined) {
      final.createdBy = overlay.current(id, docs)?.createdBy ?? state.rules.actor;
    }

    // Overlapping frame ranges: same video, same persona, same link target.
    const group = groupKey(final ?? doc);
    const others = overlay.overlapping(id, group, finalRange, docs.stored.get(group));
    let mergedInto: string | undefined;
    if (others.length > 0) {
      for (const other of others) {
        state.issues.conflicts.add({
          type: "overlapping_frames",
          annotationId: shownId,
          existingAnnotationId: publicId(dataset._id, other.id),
          message: overlapMessage(other.range, finalRange),
          line,
        });
      }
      if (overlappingFrames === "skip") {
        state.skipped.annotations++;
        accounting.skipped++;
        return;
      }
      const first = others[0] as TrackRange;
      if (overlappingFrames === "fail") {
        accounting.drop("overlapping frames");
        const message = `${overlapMessage(first.range, finalRange)} (annotation "${publicId(dataset._id, first.id)}")`;
        await state.stop(line, "conflict", message, "boundingBoxSequence", shownId);
        return;
      }
      if (overlappingFrames === "merge" && !duplicateHandled) {
        mergedInto = first.id;
        this.mergeInto(first, finalRange, doc, group, docs);
      }
      if (overlappingFrames === "overwrite") {
        for (const other of others) this.trim(other, finalRange, docs);
      }
    }

    if (mergedInto === undefined) {
      const createdBy = overlay.get(id)?.line ?? line;
      if (final) {
        docs.work.set(id, final);
        overlay.touch(id, { ...entryOf(final), line: createdBy });
      } else {
        overlay.touch(id, { exists: true, group, range: finalRange, datasetId: dataset._id, line: createdBy });
      }
    }
    // Placeholders are created only for a line that is imported.
    if (videoMissing) this.placeholderVideo(doc.itemId, line, shownId, batch);
    if (personaMissing) this.placeholderPersona(doc.personaId as string, line, shownId, batch);
    state.imported.annotations++;
    // Joined into another annotation (overlapping frames) or into the one with its id (duplicate merge).
    if (mergedInto !== undefined || (duplicateHandled && duplicateIds === "merge")) accounting.merged++;
    else accounting.written++;
    if (parsed.warnings.some((w) => w.type === "unknown_field")) accounting.change("unknown fields ignored");
    state.imported.totalKeyframes += parsed.keyframes;
    if (parsed.keyframes === 1) state.imported.singleKeyframeSequences++;
  }

  /** `overlappingFrames: merge`: the line's boxes join the first track it overlaps. */
  private mergeInto(target: TrackRange, range: FrameRange, doc: AnnotationDoc, group: string, docs: BatchDocs): void {
    const existing = this.overlay.current(target.id, docs);
    const createdBy = this.overlay.get(target.id)?.line;
    const keep = createdBy === undefined ? {} : { line: createdBy };
    if (existing?.boxSequence) {
      const merged = mergedTrack(existing, doc.boxSequence?.boxes ?? [], this.state.now);
      docs.work.set(target.id, merged);
      this.overlay.touch(target.id, { ...entryOf(merged), ...keep });
    } else {
      const union = unionRange(target.range, range);
      this.overlay.touch(target.id, { exists: true, group, range: union, datasetId: this.dataset._id, ...keep });
    }
  }

  /** `overlappingFrames: overwrite`: the other annotation loses its boxes inside `range`. */
  private trim(other: TrackRange, range: FrameRange, docs: BatchDocs): void {
    const existing = this.overlay.current(other.id, docs);
    const entry = this.overlay.get(other.id);
    const keep = entry?.line === undefined ? {} : { line: entry.line };
    if (existing?.boxSequence) {
      const trimmed = trimmedTrack(existing, range, this.state.now);
      docs.work.set(other.id, trimmed);
      if (trimmed) this.overlay.touch(other.id, { ...entryOf(trimmed), ...keep });
      else this.overlay.touch(other.id, { exists: false, datasetId: existing.datasetId, ...keep });
      return;
    }
    // Preview without the document at hand: the range outside the replaced frames.
    const group = entry?.group;
    const base = { datasetId: this.dataset._id, ...keep, ...(group ? { group } : {}) };
    const left = trimmedRange(other.range, range);
    if (left) this.overlay.touch(other.id, { exists: true, range: left, ...base });
    else this.overlay.touch(other.id, { exists: false, ...base });
  }

  private placeholderVideo(videoId: string, line: number, annotationId: string, batch: BatchWrite): void {
    const { dataset, state } = this;
    this.lookups.videos.set(videoId, true);
    state.imported.items++;
    if (!this.writes.dry) {
      const placeholder: ItemDoc = {
        _id: storedId(dataset._id, videoId),
        datasetId: dataset._id,
        kind: "video",
        status: "draft",
        meta: { placeholder: true },
        tags: [],
        createdAt: state.now,
        updatedAt: state.now,
        version: 1,
      };
      stage(batch, Collections.items, placeholder._id, null, placeholder);
    }
    const message = `Created placeholder video "${videoId}"`;
    state.warn(line, { type: "missing_dependency", field: "videoId", message }, annotationId);
  }

  private placeholderPersona(personaId: string, line: number, annotationId: string, batch: BatchWrite): void {
    const { dataset, state } = this;
    this.lookups.personas.set(personaId, true);
    if (!this.writes.dry) {
      const placeholder: PersonaDoc = {
        _id: personaId,
        datasetId: dataset._id,
        name: personaId,
        placeholder: true,
        createdAt: state.now,
      };
      stage(batch, Collections.personas, personaId, null, placeholder);
    }
    const message = `Created placeholder persona "${personaId}"`;
    state.warn(line, { type: "missing_dependency", field: "personaId", message }, annotationId);
  }
}
