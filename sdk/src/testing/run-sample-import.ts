// Runs an importer on an upload built from files in memory (zipped, or one file as it is), through
// the same runImport the plugin runtime uses, and reads the records back: what the orchestrator
// would receive. For importer tests and the conformance kit.
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yazl from "yazl";
import { parseOptions } from "../export-options.ts";
import type { Item } from "../gen/labelport/v1/dataset_pb.ts";
import { openImportSource } from "../import-source.ts";
import type { ImporterClass } from "../importer.ts";
import { itemFromJson } from "../item-json.ts";
import { type ImportConversion, runImport } from "../run-import.ts";

export interface SampleUpload {
  /** Files of the upload by path; zipped unless `single` is set. */
  files: Record<string, string | Uint8Array>;
  /** Upload the one file as it is instead of a ZIP. */
  single?: boolean;
  /** Upload name (default upload.zip, or the single file's name). */
  fileName?: string;
}

export interface SampleImport {
  conversion: ImportConversion;
  items: Item[];
  /** URIs storeMedia returned, by path in the upload. */
  media: Map<string, string>;
}

export interface SampleImportOptions {
  options?: Record<string, unknown> | undefined;
  signal?: AbortSignal | undefined;
  datasetId?: string | undefined;
}

/** Writes an upload to `dir` and returns its path. */
export async function writeSampleUpload(dir: string, upload: SampleUpload): Promise<{ path: string; name: string }> {
  const entries = Object.entries(upload.files);
  if (upload.single) {
    const [name, body] = entries[0] ?? ["upload", ""];
    const path = join(dir, "upload");
    await writeFile(path, body);
    return { path, name: upload.fileName ?? name };
  }
  const zip = new yazl.ZipFile();
  for (const [name, body] of entries) {
    zip.addBuffer(typeof body === "string" ? Buffer.from(body) : Buffer.from(body), name, { mtime: new Date(0) });
  }
  zip.end();
  const path = join(dir, "upload.zip");
  const out = createWriteStream(path);
  zip.outputStream.pipe(out);
  await once(out, "finish");
  return { path, name: upload.fileName ?? "upload.zip" };
}

export async function runSampleImport(
  Importer: ImporterClass<unknown>,
  upload: SampleUpload,
  options: SampleImportOptions = {},
): Promise<SampleImport> {
  const dir = await mkdtemp(join(tmpdir(), "labelport-sample-import-"));
  try {
    const written = await writeSampleUpload(dir, upload);
    const source = await openImportSource(written.path, written.name);
    const importer = new Importer();
    const media = new Map<string, string>();
    try {
      const conversion = await runImport({
        importer,
        options: parseOptions(importer.options, options.options ?? {}),
        source,
        datasetId: options.datasetId ?? "sample",
        storeMedia: async (file) => {
          const uri = `media/sample/${file.path}`;
          media.set(file.path, uri);
          return { uri, bytes: file.size };
        },
        itemsPath: join(dir, "items.jsonl"),
        signal: options.signal ?? new AbortController().signal,
        log: { debug() {}, info() {}, warn() {}, error() {} },
      });
      const text = await readFile(join(dir, "items.jsonl"), "utf8");
      const items = text
        .split("\n")
        .filter(Boolean)
        .map((line) => itemFromJson(JSON.parse(line)));
      return { conversion, items, media };
    } finally {
      await source.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
