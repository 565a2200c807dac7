// Labelport export importer: what the jsonl exporter writes with `items: true` (items.jsonl, one
// lossless item JSON a line, and dataset.json with the categories), or a json-snapshot export
// (snapshot.json, or items/<id>.json per item). Items come back verbatim: ids, attributes, times,
// versions and media URIs are kept; an image the ZIP holds where the export layout put it
// (images/<split>/...) is stored as media of the dataset and the item points to it instead.
// items.jsonl and our snapshot.json (one element a line) are read line by line: memory is bounded
// by the batch, not by the upload.
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import {
  BaseImporter,
  type Category,
  categoryFolder,
  type ImportBatch,
  type ImportContext,
  type ImportSource,
  ImportSourceError,
  type Item,
  itemFromJson,
  originalFileParts,
  readLines,
  type SourceFile,
  splitFolder,
  z,
} from "@labelport/sdk";
import { CategorySchema } from "@labelport/sdk/contracts";

const options = z.strictObject({});

export type LabelportImportOptions = z.output<typeof options>;

const BATCH_ITEMS = 500;
const ITEMS_JSONL = "items.jsonl";
const DATASET_JSON = "dataset.json";
const SNAPSHOT_JSON = "snapshot.json";

/** Where the export's files are in the upload. */
interface ExportFiles {
  /** items.jsonl, snapshot.json, or the items/<id>.json files of an artifact snapshot. */
  items: { kind: "jsonl" | "snapshot"; file: SourceFile } | { kind: "artifacts"; files: SourceFile[] };
  dataset: SourceFile | undefined;
  /** The folder the export's files are in ("" or "<top folder>/"). */
  prefix: string;
}

export class LabelportImporter extends BaseImporter<LabelportImportOptions> {
  static override manifest = {
    name: "labelport-importer",
    version: "1.0.0",
    formats: ["labelport"],
    sdk: "^0.1.0",
    description:
      "Labelport's lossless export: items.jsonl with dataset.json (jsonl export, items: true) or a json-snapshot " +
      "snapshot.json; ids, categories, attributes, times and versions kept, images in the ZIP stored as media.",
  };

  readonly options = options;

  async *import(ctx: ImportContext<LabelportImportOptions>): AsyncGenerator<ImportBatch> {
    const found = findExportFiles(ctx.source);
    if (found.dataset) yield { categories: await readCategories(found.dataset) };
    else ctx.note(`no ${DATASET_JSON}: annotations keep their category ids, which the dataset must have`);
    const media = createMediaFinder(ctx, found.prefix);
    let batch: Item[] = [];
    for await (const item of readItems(found)) {
      ctx.signal.throwIfAborted();
      batch.push(await media.attach(item));
      if (batch.length >= BATCH_ITEMS) {
        yield { items: batch };
        batch = [];
      }
    }
    if (batch.length > 0) yield { items: batch };
  }
}

export default LabelportImporter;

export const importers = [LabelportImporter];

function findExportFiles(source: ImportSource): ExportFiles {
  if (!source.archive) {
    const file = source.files[0];
    if (file && /\.jsonl$/i.test(file.path)) return { items: { kind: "jsonl", file }, dataset: undefined, prefix: "" };
    if (file && /\.json$/i.test(file.path))
      return { items: { kind: "snapshot", file }, dataset: undefined, prefix: "" };
  }
  // The export's own files are at the top, or in the one folder a re-zipped download adds.
  const depth = (path: string) => path.split("/").length;
  const candidates = source.files
    .filter((f) => /(^|\/)(items\.jsonl|snapshot\.json)$/.test(f.path) && depth(f.path) <= 2)
    .sort((a, b) => depth(a.path) - depth(b.path) || (a.path.endsWith(ITEMS_JSONL) ? -1 : 1));
  const chosen = candidates[0];
  if (chosen) {
    const prefix = chosen.path.slice(0, chosen.path.lastIndexOf("/") + 1);
    const kind = chosen.path.endsWith(ITEMS_JSONL) ? "jsonl" : "snapshot";
    return { items: { kind, file: chosen }, dataset: source.file(`${prefix}${DATASET_JSON}`), prefix };
  }
  const artifacts = source.files.filter((f) => /^([^/]+\/)?items\/.+\.json$/.test(f.path));
  const first = artifacts[0];
  if (first) {
    const prefix = first.path.slice(0, first.path.indexOf("items/"));
    const files = artifacts.filter((f) => f.path.startsWith(`${prefix}items/`));
    return { items: { kind: "artifacts", files }, dataset: source.file(`${prefix}${DATASET_JSON}`), prefix };
  }
  throw new ImportSourceError(
    `${source.fileName}: no Labelport export; expected ${ITEMS_JSONL} (with ${DATASET_JSON}) or ${SNAPSHOT_JSON}, ` +
      "at the top of the ZIP or in its one folder",
  );
}

async function readCategories(file: SourceFile): Promise<Category[]> {
  let json: unknown;
  try {
    json = JSON.parse(await file.text());
  } catch (err) {
    throw new ImportSourceError(`${file.path}: not valid JSON (${(err as Error).message})`);
  }
  const record = json as { schemaVersion?: unknown; categories?: unknown } | null;
  if (!record || typeof record !== "object" || !Array.isArray(record.categories)) {
    throw new ImportSourceError(`${file.path}: expected an object with a "categories" array`);
  }
  if (record.schemaVersion !== 1) {
    throw new ImportSourceError(`${file.path}: schemaVersion ${JSON.stringify(record.schemaVersion)}; this reads 1`);
  }
  return record.categories.map((category, index) => {
    try {
      return fromJson(CategorySchema, category as JsonValue);
    } catch (err) {
      throw new ImportSourceError(`${file.path}: categories[${index}]: ${(err as Error).message}`);
    }
  });
}

async function* readItems(found: ExportFiles): AsyncGenerator<Item> {
  const { items } = found;
  if (items.kind === "artifacts") {
    for (const file of items.files) yield parseItem(await file.text(), file.path);
  } else if (items.kind === "jsonl") {
    for await (const { line, number } of readLines(items.file)) {
      if (line.trim() !== "") yield parseItem(line, `${items.file.path}: line ${number}`);
    }
  } else {
    yield* readSnapshot(items.file);
  }
}

/**
 * snapshot.json as our exporter writes it ("[", one item a line with a trailing comma, "]") is read
 * line by line; any other layout of the array is read whole.
 */
async function* readSnapshot(file: SourceFile): AsyncGenerator<Item> {
  if (await isOneElementPerLine(file)) {
    for await (const { line, number } of readLines(file)) {
      const element = line.trim().replace(/,$/, "");
      if (element === "[" || element === "]" || element === "") continue;
      yield parseItem(element, `${file.path}: line ${number}`);
    }
    return;
  }
  let json: unknown;
  try {
    json = JSON.parse(await file.text());
  } catch (err) {
    throw new ImportSourceError(`${file.path}: not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(json)) throw new ImportSourceError(`${file.path}: expected a JSON array of items`);
  for (const [index, element] of json.entries()) yield itemOf(element as JsonValue, `${file.path}: [${index}]`);
}

async function isOneElementPerLine(file: SourceFile): Promise<boolean> {
  const head: string[] = [];
  for await (const { line } of readLines(file)) {
    head.push(line.trim());
    if (head.length === 2) break;
  }
  const [open, element = ""] = head;
  return open === "[" && (element === "]" || (element.startsWith("{") && /\},?$/.test(element)));
}

function parseItem(text: string, where: string): Item {
  let json: JsonValue;
  try {
    json = JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new ImportSourceError(`${where}: not valid JSON (${(err as Error).message})`);
  }
  return itemOf(json, where);
}

function itemOf(json: JsonValue, where: string): Item {
  let item: Item;
  try {
    item = itemFromJson(json);
  } catch (err) {
    throw new ImportSourceError(`${where}: not a Labelport item (${(err as Error).message})`);
  }
  if (!item.id) throw new ImportSourceError(`${where}: the item has no "id"`);
  return item;
}

/**
 * Finds an item's image where the export layout put it (images/<split>/[<meta.category>/]<stem><ext>,
 * stems de-duplicated in item order as the exporter did, with and without category folders) and
 * stores it as media.
 */
function createMediaFinder(ctx: ImportContext<unknown>, prefix: string) {
  const hasImages = ctx.source.files.some((f) => f.path.startsWith(`${prefix}images/`));
  const used = [new Set<string>(), new Set<string>()];
  return {
    async attach(item: Item): Promise<Item> {
      if (!hasImages || !item.media) return item;
      const split = splitFolder(item);
      const parts = originalFileParts(item);
      const keys = ["", categoryFolder(item)].map((folder, layout) => {
        const taken = used[layout] as Set<string>;
        let stem = parts.stem;
        for (let n = 1; taken.has(`${folder}/${stem}`.toLowerCase()); n++) stem = `${parts.stem}_${n}`;
        taken.add(`${folder}/${stem}`.toLowerCase());
        return `${prefix}images/${split}/${folder ? `${folder}/` : ""}${stem}${parts.ext}`;
      });
      const file = keys.map((key) => ctx.source.file(key)).find((f) => f !== undefined);
      if (!file) return item;
      return { ...item, media: { ...item.media, uri: await ctx.storeMedia(file) } };
    },
  };
}
