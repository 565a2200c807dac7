// One pass of an import over a spooled file: records are parsed and validated a batch at a time,
// dependencies and conflicts are looked up per batch with `$in` queries (never per line), the
// seed 001 conflict rules decide each record in file order, and the batch's writes go to the
// writer in bulk. Preview runs the same code with a writer that writes nothing; an in-memory
// overlay of what this import has done so far keeps preview and import decisions identical.
import { setImmediate as yieldToLoop } from "node:timers/promises";
import type { Db, Filter } from "mongodb";
import type { AnnotationDoc, DatasetDoc, ItemDoc, PersonaDoc } from "../model.ts";
import { Collections } from "../model.ts";
import { keyframeCount, mergeBoxes, rangesOverlap, trackKeyOf, trimBoxes, withBoxes } from "../tracks.ts";
import { type LineIssue, type ParsedAnnotation, parseAnnotationLine } from "./annotation-line.ts";
import { ImportEmptyFileError, ImportParseError } from "./errors.ts";
import type { CountsEntry, ImportStatusName, SummaryEntry } from "./history.ts";
import { emptyCounts, IssueLog, issue } from "./issues.ts";
import { type ParsedItem, parseItemLine } from "./item-line.ts";
import type { ImportOptions } from "./options.ts";
import { type RawRecord, readRecords } from "./reader.ts";
import {
  addOp,
  type BatchWrite,
  emptyBatch,
  type IdDoc,
  type ImportWriter,
  stage,
  type WrittenDocs,
  writtenDocs,
} from "./writer.ts";

export type ImportFormat = "jsonl" | "json" | "labelport-items";
export const IMPORT_FORMATS: readonly ImportFormat[] = ["jsonl", "json", "labelport-items"];

export interface RunInput {
  importId: string;
  dataset: DatasetDoc;
  path: string;
  format: ImportFormat;
  options: ImportOptions;
  batchSize: number;
  maxLineBytes?: number;
  maxDepth?: number;
  /** Called after each batch with the records processed so far. */
  onProgress?: (processedLines: number) => void;
}

export interface RunOutcome {
  status: ImportStatusName;
  success: boolean;
  summary: SummaryEntry;
  issues: IssueLog;
  errorMessage?: string;
  /** True when an atomic import's writes were undone. */
  rolledBack: boolean;
}

interface OverlayEntry {
  exists: boolean;
  group?: string;
  range?: [number, number];
  /** The line that created it, when this import did. */
  line?: number;
  datasetId: string;
}

interface VideoInfo {
  datasetId: string;
}

const groupKey = (doc: AnnotationDoc): string => doc.trackKey ?? trackKeyOf(doc);

/** Records validated between two turns of the event loop. */
const YIELD_EVERY = 64;

const unique = <T>(values: Iterable<T>): T[] => [...new Set(values)];

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function idOf(value: unknown): string | undefined {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === "string" ? id : undefined;
}

export class ImportRun {
  private readonly issues = new IssueLog();
  private readonly imported: CountsEntry = emptyCounts();
  private readonly skipped: CountsEntry = emptyCounts();
  private totalLines = 0;
  private processedLines = 0;
  /** Set once nothing more may be written (preview, or an atomic import that failed). */
  private dry: boolean;
  private stopped = false;
  /** A non-atomic import whose file became unreadable at some line. */
  private truncated = false;
  private failed = false;
  private rolledBack = false;
  private fatalMessage: string | undefined;
  private readonly overlay = new Map<string, OverlayEntry>();
  private readonly groups = new Map<string, Set<string>>();
  private readonly videos = new Map<string, VideoInfo | null>();
  private readonly personas = new Map<string, boolean>();
  private readonly itemLines = new Map<string, number>();
  private readonly categoryIds: Set<number>;
  private readonly now = new Date();
  private readonly atomic: boolean;

  constructor(
    private readonly db: Db,
    private readonly writer: ImportWriter,
    private readonly input: RunInput,
  ) {
    this.dry = writer.mode === "preview";
    this.atomic = input.options.transaction.atomic;
    this.categoryIds = new Set(input.dataset.categories.map((c) => c.id));
  }

  async execute(): Promise<RunOutcome> {
    const { input } = this;
    const recordFormat = input.format === "json" ? "json" : "jsonl";
    try {
      for await (const records of readRecords(input.path, recordFormat, input.batchSize, {
        ...(input.maxLineBytes ? { maxLineBytes: input.maxLineBytes } : {}),
        ...(input.maxDepth ? { maxDepth: input.maxDepth } : {}),
      })) {
        if (input.format === "labelport-items") await this.itemBatch(records);
        else await this.annotationBatch(records);
        input.onProgress?.(this.processedLines);
        if (this.stopped || this.truncated) break;
      }
      await this.settle();
    } catch (err) {
      await this.goDry();
      throw err;
    }
    if (this.totalLines === 0 && !this.stopped && !this.truncated) {
      await this.goDry();
      throw new ImportEmptyFileError();
    }
    const success = !this.stopped && !this.truncated && (!this.failed || !this.atomic);
    if (!success && this.atomic) await this.goDry();
    let status: ImportStatusName;
    if (this.writer.mode === "preview") status = success ? "completed" : "failed";
    else if (success) status = "completed";
    else status = this.rolledBack ? "rolled_back" : "failed";
    const summary: SummaryEntry = {
      totalLines: this.totalLines,
      processedLines: this.processedLines,
      importedItems: this.imported,
      skippedItems: this.skipped,
    };
    if (!success && this.atomic && this.writer.mode !== "preview") {
      // Nothing of an atomic import that failed was kept.
      summary.importedItems = emptyCounts();
      summary.skippedItems = {
        ...emptyCounts(),
        annotations: this.imported.annotations + this.skipped.annotations,
        items: this.imported.items + this.skipped.items,
      };
    }
    const outcome: RunOutcome = { status, success, summary, issues: this.issues, rolledBack: this.rolledBack };
    if (!success) outcome.errorMessage = this.fatalMessage ?? this.failureMessage();
    return outcome;
  }

  /** Whether the writer still has to be committed (the caller does it with the history). */
  get mustCommit(): boolean {
    return !this.dry;
  }

  private failureMessage(): string {
    const n = this.issues.errors.count;
    if (this.stopped) return this.issues.errors.items[this.issues.errors.items.length - 1]?.message ?? "Import aborted";
    return `${n} line${n === 1 ? "" : "s"} failed validation; ${this.atomic ? "nothing was imported" : "the rest was imported"}`;
  }

  /** An atomic import that failed undoes what it wrote and continues only to report. */
  private async goDry(): Promise<void> {
    if (this.dry) return;
    this.dry = true;
    for (const write of this.writes.splice(0)) await write.done.catch(() => undefined);
    if (this.writer.wrote) this.rolledBack = true;
    await this.writer.rollback();
  }

  /**
   * Batch writes in flight, oldest first. A batch's writes run while the next batch is read,
   * validated and looked up; its own writes start once the previous batch's ended, so at most one
   * batch is being written and one more waits (with its journal entry written meanwhile).
   */
  private readonly writes: Array<{ done: Promise<void>; docs: WrittenDocs }> = [];

  private startWrite(batch: BatchWrite): void {
    const done = this.writer.apply(batch, this.writes.at(-1)?.done);
    done.catch(() => undefined);
    this.writes.push({ done, docs: this.writer.session ? new Map() : writtenDocs(batch) });
  }

  /** Waits for every write in flight; throws the first failure. */
  private async settle(): Promise<void> {
    while (this.writes.length > 0) await (this.writes.shift() as { done: Promise<void> }).done;
  }

  /**
   * Before a batch's lookups. A transaction's reads go through its session after its writes;
   * otherwise they run while the last batch is written, and see its documents through `inFlight`.
   */
  private async beforeLookups(): Promise<void> {
    if (this.writer.session) await this.settle();
    while (this.writes.length > 1) await (this.writes.shift() as { done: Promise<void> }).done;
  }

  /** The documents of the batch that may still be being written, in `collection`. */
  private inFlight(collection: string): Map<string, IdDoc | null> | undefined {
    return this.writes[0]?.docs.get(collection);
  }

  /** Lookup results with the documents of the batch in flight in their place. */
  private patch<T extends IdDoc>(collection: string, found: Map<string, T>, ids: Iterable<string>): void {
    const flight = this.inFlight(collection);
    if (!flight) return;
    for (const id of ids) {
      if (!flight.has(id)) continue;
      const doc = flight.get(id);
      if (doc) found.set(id, doc as T);
      else found.delete(id);
    }
  }

  private async lineFailed(line: number, errors: LineIssue[], annotationId?: string): Promise<void> {
    for (const e of errors) this.issues.errors.add(issue({ line, ...e, annotationId }));
    this.failed = true;
    if (this.atomic) await this.goDry();
  }

  /** A `fail` policy: stops the import at this line. */
  private async stop(line: number, type: string, message: string, field?: string, annotationId?: string) {
    this.issues.errors.add(issue({ line, type, message, field, annotationId }));
    this.failed = true;
    this.stopped = true;
    this.fatalMessage = message.includes(`line ${line}`) ? message : `Line ${line}: ${message}`;
    if (this.atomic) await this.goDry();
  }

  private warn(line: number, w: LineIssue, annotationId?: string): void {
    this.issues.warnings.add(issue({ line, ...w, annotationId }));
  }

  /** Parse problems abort atomic imports (seed 001 "Parse Error"); non-atomic ones skip the line. */
  private async recordParseError(record: RawRecord & { error: string }, onSkip: () => void): Promise<void> {
    if (this.atomic) {
      this.issues.errors.add(issue({ line: record.line, type: "parse", message: record.error }));
      throw new ImportParseError(record.error, record.line);
    }
    if (record.fatal) {
      // The rest of the file cannot be read; the lines before it are still imported (non-atomic).
      this.issues.errors.add(issue({ line: record.line, type: "parse", message: record.error }));
      this.failed = true;
      this.truncated = true;
      this.fatalMessage = record.error;
      return;
    }
    onSkip();
    await this.lineFailed(record.line, [{ type: "parse", message: record.error }]);
  }

  /** Validation and strict mode: records that passed, with their warnings logged. */
  private async validate<T extends { warnings: LineIssue[] }>(
    records: RawRecord[],
    parse: (value: unknown) => { ok: true; value: T } | { ok: false; errors: LineIssue[] },
    onSkip: () => void,
  ): Promise<Array<{ line: number; value: T }>> {
    const out: Array<{ line: number; value: T }> = [];
    const strict = this.input.options.validation.strictMode;
    let n = 0;
    for (const record of records) {
      if (this.stopped || this.truncated) break;
      // Let the previous batch's write go on (its next command waits for the event loop).
      if (++n % YIELD_EVERY === 0) await yieldToLoop();
      this.totalLines++;
      this.processedLines++;
      if (record.error !== undefined) {
        await this.recordParseError(record, onSkip);
        continue;
      }
      const result = parse(record.value);
      // Issues carry annotation ids; a lossless item line is named by its line alone.
      const id = this.input.format === "labelport-items" ? undefined : idOf(record.value);
      if (!result.ok) {
        onSkip();
        await this.lineFailed(record.line, result.errors, id);
        continue;
      }
      if (strict && result.value.warnings.length > 0) {
        onSkip();
        await this.lineFailed(
          record.line,
          result.value.warnings.map((w) => ({
            type: "strict_mode",
            ...(w.field ? { field: w.field } : {}),
            message: `${w.message} (rejected in strict mode)`,
          })),
          id,
        );
        continue;
      }
      for (const w of result.value.warnings) this.warn(record.line, w, id);
      out.push({ line: record.line, value: result.value });
    }
    return out;
  }

  private readOptions(): { session?: NonNullable<ImportWriter["session"]> } {
    const session = this.dry ? undefined : this.writer.session;
    return session ? { session } : {};
  }

  private touch(id: string, entry: OverlayEntry): void {
    const previous = this.overlay.get(id);
    if (previous?.group && previous.group !== entry.group) this.groups.get(previous.group)?.delete(id);
    this.overlay.set(id, entry);
    if (entry.group) {
      let set = this.groups.get(entry.group);
      if (!set) {
        set = new Set();
        this.groups.set(entry.group, set);
      }
      set.add(id);
    }
  }

  // ---- seed 001 annotations (jsonl, json) ----

  private async annotationBatch(records: RawRecord[]): Promise<void> {
    const { dataset, options } = this.input;
    const parsed = await this.validate<ParsedAnnotation>(
      records,
      (value) =>
        parseAnnotationLine(value, {
          requireKeyframes: options.validation.requireKeyframes,
          now: this.now,
          datasetId: dataset._id,
        }),
      () => this.skipped.annotations++,
    );
    if (parsed.length === 0 || this.stopped) return;
    await this.beforeLookups();
    const read = this.readOptions();
    const items = this.db.collection<ItemDoc>(Collections.items);
    const personas = this.db.collection<PersonaDoc>(Collections.personas);
    const annotations = this.db.collection<AnnotationDoc>(Collections.annotations);

    const videoIds = unique(parsed.map((p) => p.value.doc.itemId));
    const newVideoIds = videoIds.filter((id) => !this.videos.has(id));
    const personaIds = unique(parsed.map((p) => p.value.doc.personaId ?? "")).filter(
      (id) => id !== "" && !this.personas.has(id),
    );
    const ids = unique(parsed.map((p) => p.value.doc._id));
    // Sequential: a transaction's session takes one operation at a time.
    if (newVideoIds.length > 0) {
      const found = await items
        .find({ _id: { $in: newVideoIds } }, { projection: { _id: 1, datasetId: 1 }, ...read })
        .toArray();
      for (const v of found) this.videos.set(v._id, { datasetId: v.datasetId });
      for (const id of newVideoIds) if (!this.videos.has(id)) this.videos.set(id, null);
    }
    if (personaIds.length > 0) {
      // Persona ids are unique per database: one another dataset created is the same persona (a
      // placeholder here would collide with it, or before plain inserts, take it over).
      const found = await personas.find({ _id: { $in: personaIds } }, { projection: { _id: 1 }, ...read }).toArray();
      for (const p of found) this.personas.set(p._id, true);
      for (const id of personaIds) if (!this.personas.has(id)) this.personas.set(id, false);
    }
    const full = new Map<string, AnnotationDoc>();
    for (const doc of await annotations.find({ _id: { $in: ids } }, read).toArray()) full.set(doc._id, doc);
    this.patch(Collections.annotations, full, ids);
    // Tracks that may overlap: the same video, persona and link target (indexed `trackKey`).
    const keys = unique(parsed.map((p) => groupKey(p.value.doc)));
    const candidateFilter: Filter<AnnotationDoc> = {
      datasetId: dataset._id,
      trackKey: { $in: keys },
      removed: { $ne: true },
    };
    const dbGroups = new Map<string, Array<{ id: string; range: [number, number] }>>();
    const candidates = await annotations
      .find(candidateFilter, { projection: { _id: 1, trackKey: 1, frameRange: 1 }, ...read })
      .toArray();
    for (const c of candidates) {
      if (this.overlay.has(c._id) || !c.frameRange || !c.trackKey) continue;
      let list = dbGroups.get(c.trackKey);
      if (!list) {
        list = [];
        dbGroups.set(c.trackKey, list);
      }
      list.push({ id: c._id, range: c.frameRange });
    }
    // Full documents of the annotations a merge or trim may rewrite, in one query.
    const policy = options.conflictResolution.overlappingFrames;
    if (!this.dry && (policy === "merge" || policy === "overwrite")) {
      const needed = new Set<string>();
      for (const p of parsed) {
        const range = p.value.doc.frameRange;
        if (!range) continue;
        for (const c of dbGroups.get(groupKey(p.value.doc)) ?? []) {
          if (!full.has(c.id) && rangesOverlap(c.range, range)) needed.add(c.id);
        }
        for (const id of this.groups.get(groupKey(p.value.doc)) ?? []) if (!full.has(id)) needed.add(id);
      }
      if (needed.size > 0) {
        for (const doc of await annotations.find({ _id: { $in: [...needed] } }, read).toArray()) full.set(doc._id, doc);
        this.patch(Collections.annotations, full, needed);
      }
    }
    const before = new Map(full);
    const work = new Map<string, AnnotationDoc | null>();
    const batch = emptyBatch();
    for (const p of parsed) {
      await this.decideAnnotation(p.line, p.value, { full, work, dbGroups, batch });
      if (this.stopped) break;
    }
    if (this.dry) return;
    for (const [id, doc] of work) {
      const previous = before.get(id) ?? null;
      stage(batch, Collections.annotations, id, previous, doc);
    }
    this.startWrite(batch);
  }

  private async decideAnnotation(
    line: number,
    parsed: ParsedAnnotation,
    state: {
      full: Map<string, AnnotationDoc>;
      work: Map<string, AnnotationDoc | null>;
      dbGroups: Map<string, Array<{ id: string; range: [number, number] }>>;
      batch: BatchWrite;
    },
  ): Promise<void> {
    const { dataset, options } = this.input;
    const { duplicateIds, overlappingFrames, missingDependencies } = options.conflictResolution;
    const doc = parsed.doc;
    const id = doc._id;
    // No closures here: under tsx (keepNames) each one costs a defineProperty per line.

    // Dependencies: the video (an item of this dataset) and the persona.
    const video = this.videos.get(doc.itemId);
    if (video && video.datasetId !== dataset._id) {
      this.skipped.annotations++;
      await this.lineFailed(
        line,
        [
          {
            type: "validation",
            field: "videoId",
            message: `videoId: video "${doc.itemId}" belongs to another dataset`,
          },
        ],
        id,
      );
      return;
    }
    const missing: Array<{ kind: "video" | "persona"; id: string; field: string }> = [];
    if (!video) missing.push({ kind: "video", id: doc.itemId, field: "videoId" });
    if (doc.personaId && !this.personas.get(doc.personaId)) {
      missing.push({ kind: "persona", id: doc.personaId, field: "personaId" });
    }
    for (const dep of missing) {
      const name = dep.kind === "video" ? "Video" : "Persona";
      if (missingDependencies === "fail") {
        await this.stop(line, "missing_dependency", `${name} "${dep.id}" not found`, dep.field, id);
        return;
      }
      if (missingDependencies === "skip") {
        this.warn(
          line,
          {
            type: "missing_dependency",
            field: dep.field,
            message: `${name} "${dep.id}" not found; annotation skipped`,
          },
          id,
        );
        this.skipped.annotations++;
        return;
      }
    }
    let final: AnnotationDoc | undefined = doc;
    let finalRange = doc.frameRange as [number, number];
    let duplicateHandled = false;
    const dup = this.existsNow(state, id);
    if (dup.exists) {
      if (dup.datasetId !== dataset._id) {
        this.skipped.annotations++;
        await this.lineFailed(
          line,
          [{ type: "validation", field: "id", message: `id: annotation "${id}" belongs to another dataset` }],
          id,
        );
        return;
      }
      this.issues.conflicts.add({
        type: "duplicate_id",
        annotationId: id,
        message:
          dup.line === undefined
            ? "Annotation ID already exists in database"
            : `Annotation ID already imported from line ${dup.line}`,
        line,
      });
      if (duplicateIds === "skip") {
        this.skipped.annotations++;
        return;
      }
      if (duplicateIds === "fail") {
        await this.stop(line, "conflict", `Duplicate annotation ID "${id}"`, "id", id);
        return;
      }
      duplicateHandled = true;
      const existing = this.current(state, id);
      if (duplicateIds === "overwrite") {
        if (existing && !parsed.createdAtGiven) final = { ...doc, createdAt: existing.createdAt };
      } else {
        // merge: the imported keyframes join the existing sequence; imported boxes win on equal frames.
        const existingRange = this.overlay.get(id)?.range ?? existing?.frameRange;
        if (existing?.boxSequence) {
          const boxes = mergeBoxes(existing.boxSequence.boxes, doc.boxSequence?.boxes ?? []);
          final = {
            ...existing,
            ...withBoxes(existing, boxes),
            updatedAt: this.now,
          };
          finalRange = final.frameRange as [number, number];
        } else {
          final = existing ? { ...doc, createdAt: existing.createdAt } : undefined;
          if (existingRange)
            finalRange = [Math.min(existingRange[0], finalRange[0]), Math.max(existingRange[1], finalRange[1])];
        }
      }
    }

    // Overlapping frame ranges: same video, same persona, same link target.
    const group = groupKey(final ?? doc);
    const others: Array<{ id: string; range: [number, number] }> = [];
    for (const c of state.dbGroups.get(group) ?? []) {
      if (c.id !== id && !this.overlay.has(c.id) && rangesOverlap(c.range, finalRange)) others.push(c);
    }
    for (const otherId of this.groups.get(group) ?? []) {
      const entry = this.overlay.get(otherId);
      if (otherId !== id && entry?.exists && entry.range && rangesOverlap(entry.range, finalRange)) {
        others.push({ id: otherId, range: entry.range });
      }
    }
    others.sort((a, b) => a.range[0] - b.range[0] || (a.id < b.id ? -1 : 1));
    let mergedInto: string | undefined;
    if (others.length > 0) {
      for (const other of others) {
        this.issues.conflicts.add({
          type: "overlapping_frames",
          annotationId: id,
          existingAnnotationId: other.id,
          message: `Frame ranges overlap: ${other.range[0]}-${other.range[1]} and ${finalRange[0]}-${finalRange[1]}`,
          line,
        });
      }
      if (overlappingFrames === "skip") {
        this.skipped.annotations++;
        return;
      }
      if (overlappingFrames === "fail") {
        const first = others[0] as { id: string; range: [number, number] };
        await this.stop(
          line,
          "conflict",
          `Frame ranges overlap: ${first.range[0]}-${first.range[1]} and ${finalRange[0]}-${finalRange[1]} (annotation "${first.id}")`,
          "boundingBoxSequence",
          id,
        );
        return;
      }
      if (overlappingFrames === "merge" && !duplicateHandled) {
        const target = others[0] as { id: string; range: [number, number] };
        mergedInto = target.id;
        const existing = this.current(state, target.id);
        const union: [number, number] = [
          Math.min(target.range[0], finalRange[0]),
          Math.max(target.range[1], finalRange[1]),
        ];
        if (existing?.boxSequence) {
          const boxes = mergeBoxes(existing.boxSequence.boxes, doc.boxSequence?.boxes ?? []);
          const merged: AnnotationDoc = {
            ...existing,
            ...withBoxes(existing, boxes),
            updatedAt: this.now,
          };
          state.work.set(target.id, merged);
          const line0 = this.overlay.get(target.id)?.line;
          this.touch(target.id, { ...this.entryOf(merged), ...(line0 === undefined ? {} : { line: line0 }) });
        } else {
          const entry = this.overlay.get(target.id);
          this.touch(target.id, {
            exists: true,
            group,
            range: union,
            datasetId: dataset._id,
            ...(entry?.line === undefined ? {} : { line: entry.line }),
          });
        }
      }
      if (overlappingFrames === "overwrite") {
        for (const other of others) this.trim(other, finalRange, this.current(state, other.id), state.work);
      }
    }

    if (mergedInto === undefined) {
      if (final) {
        state.work.set(id, final);
        this.touch(id, { ...this.entryOf(final), line: this.overlay.get(id)?.line ?? line });
      } else {
        this.touch(id, {
          exists: true,
          group,
          range: finalRange,
          datasetId: dataset._id,
          line: this.overlay.get(id)?.line ?? line,
        });
      }
    }
    // Placeholders are created only for a line that is imported.
    this.createPlaceholders(missing, line, id, state.batch);
    this.imported.annotations++;
    this.imported.totalKeyframes += parsed.keyframes;
    if (parsed.keyframes === 1) this.imported.singleKeyframeSequences++;
  }

  /** Placeholders for a line's missing video and persona. */
  private createPlaceholders(
    missing: Array<{ kind: "video" | "persona"; id: string; field: string }>,
    line: number,
    id: string,
    batch: BatchWrite,
  ): void {
    for (const dep of missing) {
      if (dep.kind === "video") {
        this.videos.set(dep.id, { datasetId: this.input.dataset._id });
        const placeholder: ItemDoc = {
          _id: dep.id,
          datasetId: this.input.dataset._id,
          kind: "video",
          status: "draft",
          meta: { placeholder: true },
          tags: [],
          createdAt: this.now,
          updatedAt: this.now,
          version: 1,
        };
        this.imported.items++;
        if (!this.dry) {
          stage(batch, Collections.items, dep.id, null, placeholder);
        }
        this.warn(
          line,
          { type: "missing_dependency", field: "videoId", message: `Created placeholder video "${dep.id}"` },
          id,
        );
      } else {
        this.personas.set(dep.id, true);
        const placeholder: PersonaDoc = {
          _id: dep.id,
          datasetId: this.input.dataset._id,
          name: dep.id,
          placeholder: true,
          createdAt: this.now,
        };
        if (!this.dry) {
          stage(batch, Collections.personas, dep.id, null, placeholder);
        }
        this.warn(
          line,
          { type: "missing_dependency", field: "personaId", message: `Created placeholder persona "${dep.id}"` },
          id,
        );
      }
    }
  }

  /** An annotation as this batch has left it so far (undefined: none). */
  private current(
    state: { full: Map<string, AnnotationDoc>; work: Map<string, AnnotationDoc | null> },
    key: string,
  ): AnnotationDoc | undefined {
    if (state.work.has(key)) return state.work.get(key) ?? undefined;
    const entry = this.overlay.get(key);
    if (entry && !entry.exists) return undefined;
    return state.full.get(key);
  }

  private existsNow(
    state: { full: Map<string, AnnotationDoc> },
    key: string,
  ): { exists: boolean; datasetId?: string; line?: number } {
    const entry = this.overlay.get(key);
    if (entry) {
      return entry.line === undefined
        ? { exists: entry.exists, datasetId: entry.datasetId }
        : { exists: entry.exists, datasetId: entry.datasetId, line: entry.line };
    }
    const found = state.full.get(key);
    return found ? { exists: true, datasetId: found.datasetId } : { exists: false };
  }

  private entryOf(doc: AnnotationDoc): OverlayEntry {
    const entry: OverlayEntry = { exists: true, group: groupKey(doc), datasetId: doc.datasetId };
    if (doc.frameRange) entry.range = doc.frameRange;
    return entry;
  }

  /** `overlappingFrames: overwrite`: the other annotation loses its boxes inside `range`. */
  private trim(
    other: { id: string; range: [number, number] },
    range: [number, number],
    existing: AnnotationDoc | undefined,
    work: Map<string, AnnotationDoc | null>,
  ): void {
    const entry = this.overlay.get(other.id);
    const keep = entry?.line === undefined ? {} : { line: entry.line };
    if (existing?.boxSequence) {
      const boxes = trimBoxes(existing.boxSequence.boxes, range);
      if (keyframeCount(boxes) === 0) {
        work.set(other.id, null);
        this.touch(other.id, { exists: false, datasetId: existing.datasetId, ...keep });
        return;
      }
      const trimmed: AnnotationDoc = {
        ...existing,
        ...withBoxes(existing, boxes),
        updatedAt: this.now,
      };
      work.set(other.id, trimmed);
      this.touch(other.id, { ...this.entryOf(trimmed), ...keep });
      return;
    }
    // Preview without the document at hand: the range outside the replaced frames.
    const [a, b] = other.range;
    const group = entry?.group;
    const base = { datasetId: this.input.dataset._id, ...keep, ...(group ? { group } : {}) };
    if (a >= range[0] && b <= range[1]) this.touch(other.id, { exists: false, ...base });
    else if (a < range[0] && b > range[1]) this.touch(other.id, { exists: true, range: [a, b], ...base });
    else if (a < range[0]) this.touch(other.id, { exists: true, range: [a, range[0] - 1], ...base });
    else this.touch(other.id, { exists: true, range: [range[1] + 1, b], ...base });
  }

  // ---- lossless items (labelport-items) ----

  private async itemBatch(records: RawRecord[]): Promise<void> {
    const { dataset, options } = this.input;
    const parsed = await this.validate<ParsedItem>(
      records,
      (value) =>
        parseItemLine(value, {
          datasetId: dataset._id,
          now: this.now,
          requireKeyframes: options.validation.requireKeyframes,
        }),
      () => this.skipped.items++,
    );
    if (parsed.length === 0 || this.stopped) return;
    await this.beforeLookups();
    const read = this.readOptions();
    const items = this.db.collection<ItemDoc>(Collections.items);
    const annotations = this.db.collection<AnnotationDoc>(Collections.annotations);
    const itemIds = unique(parsed.map((p) => p.value.item._id));
    const annotationIds = unique(parsed.flatMap((p) => p.value.annotations.map((a) => a._id)));
    const existingItems = new Map<string, ItemDoc>();
    for (const doc of await items.find({ _id: { $in: itemIds } }, read).toArray()) existingItems.set(doc._id, doc);
    this.patch(Collections.items, existingItems, itemIds);
    const existingAnnotations = new Map<string, AnnotationDoc>();
    for (const doc of await annotations.find({ datasetId: dataset._id, itemId: { $in: itemIds } }, read).toArray()) {
      existingAnnotations.set(doc._id, doc);
    }
    const flight = this.inFlight(Collections.annotations);
    if (flight) {
      // The batch in flight decides which of its annotations these items have.
      const wanted = new Set(itemIds);
      for (const [id, doc] of flight) {
        existingAnnotations.delete(id);
        const a = doc as AnnotationDoc | null;
        if (a && a.datasetId === dataset._id && wanted.has(a.itemId)) existingAnnotations.set(id, a);
      }
    }
    const missingIds = annotationIds.filter((id) => !existingAnnotations.has(id));
    if (missingIds.length > 0) {
      for (const doc of await annotations.find({ _id: { $in: missingIds } }, read).toArray()) {
        existingAnnotations.set(doc._id, doc);
      }
      this.patch(Collections.annotations, existingAnnotations, missingIds);
    }
    // The item's annotations in the database and in this batch's work, by item id (a line looks
    // up its own item's, never scans all of them).
    const existingByItem = new Map<string, string[]>();
    for (const [id, a] of existingAnnotations) {
      if (a.datasetId === dataset._id) pushTo(existingByItem, a.itemId, id);
    }
    const workByItem = new Map<string, string[]>();
    const { duplicateIds, missingDependencies } = options.conflictResolution;
    const batch = emptyBatch();
    const itemWork = new Map<string, ItemDoc>();
    const annotationWork = new Map<string, AnnotationDoc | null>();
    const newCategories: number[] = [];
    for (const { line, value } of parsed) {
      const item = value.item;
      const existing = existingItems.get(item._id);
      if (existing && existing.datasetId !== dataset._id) {
        this.skipped.items++;
        await this.lineFailed(line, [
          { type: "validation", field: "id", message: `id: item "${item._id}" belongs to another dataset` },
        ]);
        continue;
      }
      const foreign = value.annotations.find((a) => {
        const other = existingAnnotations.get(a._id);
        return other !== undefined && other.datasetId !== dataset._id;
      });
      if (foreign) {
        this.skipped.items++;
        await this.lineFailed(line, [
          {
            type: "validation",
            field: "annotations",
            message: `annotation "${foreign._id}" belongs to another dataset`,
          },
        ]);
        continue;
      }
      const earlierLine = this.itemLines.get(item._id);
      const duplicate = earlierLine !== undefined || existing !== undefined;
      if (duplicate) {
        this.issues.conflicts.add({
          type: "duplicate_item_id",
          annotationId: item._id,
          message:
            earlierLine === undefined
              ? "Item ID already exists in database"
              : `Item ID already imported from line ${earlierLine}`,
          line,
        });
        if (duplicateIds === "skip") {
          this.skipped.items++;
          this.skipped.annotations += value.annotations.length;
          continue;
        }
        if (duplicateIds === "fail") {
          await this.stop(line, "conflict", `Duplicate item ID "${item._id}"`, "id");
          return;
        }
      }
      // Categories the dataset lacks.
      let kept = value.annotations;
      const unknown = unique(
        value.annotations
          .map((a) => a.categoryId)
          .filter((c): c is number => c !== undefined && !this.categoryIds.has(c)),
      );
      if (unknown.length > 0) {
        if (missingDependencies === "fail") {
          await this.stop(line, "missing_dependency", `Category ${unknown[0]} not found`, "annotations");
          return;
        }
        if (missingDependencies === "skip") {
          kept = value.annotations.filter((a) => a.categoryId === undefined || this.categoryIds.has(a.categoryId));
          this.skipped.annotations += value.annotations.length - kept.length;
          for (const c of unknown) {
            this.warn(line, {
              type: "missing_dependency",
              message: `Category ${c} not found; its annotations were skipped`,
            });
          }
        } else {
          for (const c of unknown) {
            this.categoryIds.add(c);
            newCategories.push(c);
            this.warn(line, { type: "missing_dependency", message: `Created placeholder category ${c}` });
          }
        }
      }
      this.itemLines.set(item._id, line);
      itemWork.set(item._id, item);
      // overwrite (and new items): the line's annotations replace the item's; merge keeps the others.
      if (!duplicate || duplicateIds === "overwrite") {
        const keptIds = new Set(kept.map((k) => k._id));
        for (const id of existingByItem.get(item._id) ?? []) {
          if (!keptIds.has(id)) annotationWork.set(id, null);
        }
        for (const id of workByItem.get(item._id) ?? []) {
          const a = annotationWork.get(id);
          if (a && a.itemId === item._id && !keptIds.has(id)) annotationWork.set(id, null);
        }
      }
      for (const a of kept) {
        annotationWork.set(a._id, a);
        pushTo(workByItem, a.itemId, a._id);
      }
      this.imported.items++;
      this.imported.annotations += kept.length;
      for (const a of kept) {
        if (!a.boxSequence) continue;
        const n = keyframeCount(a.boxSequence.boxes);
        this.imported.totalKeyframes += n;
        if (n === 1) this.imported.singleKeyframeSequences++;
      }
    }
    if (this.dry) return;
    if (newCategories.length > 0) {
      // The dataset document is updated in place: read it after every earlier update.
      await this.settle();
      const current = await this.db.collection<DatasetDoc>(Collections.datasets).findOne({ _id: dataset._id }, read);
      if (current) {
        batch.befores.push({ collection: Collections.datasets, id: dataset._id, doc: current });
        const categories = [...current.categories, ...newCategories.map((id) => ({ id, name: `category ${id}` }))];
        const nextCategoryId = Math.max(current.nextCategoryId, ...newCategories.map((id) => id + 1));
        addOp(batch, Collections.datasets, {
          updateOne: { filter: { _id: dataset._id }, update: { $set: { categories, nextCategoryId } } },
        });
      }
    }
    // The lookups above saw every document this batch touches (and this import's earlier
    // batches), so `previous` tells new documents from existing ones.
    for (const [id, doc] of itemWork) {
      const previous = existingItems.get(id) ?? null;
      stage(batch, Collections.items, id, previous, doc);
    }
    for (const [id, doc] of annotationWork) {
      const previous = existingAnnotations.get(id) ?? null;
      stage(batch, Collections.annotations, id, previous, doc);
    }
    this.startWrite(batch);
  }
}
