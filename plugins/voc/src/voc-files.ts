// Where things are in a Pascal VOC upload: the devkit roots (folders holding Annotations/), the
// annotation files, the images an annotation names, the labelmap and the ImageSets split lists.
import { type ImportSource, ImportSourceError, type SourceFile } from "@labelport/sdk";

const IMAGE_EXTENSIONS = new Set([".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"]);

export function extensionOf(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot).toLowerCase() : "";
}

export function withoutExtension(path: string): string {
  const ext = extensionOf(path);
  return ext ? path.slice(0, -ext.length) : path;
}

export function isImagePath(path: string): boolean {
  return IMAGE_EXTENSIONS.has(extensionOf(path));
}

export function dirOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash >= 0 ? path.slice(0, slash + 1) : "";
}

/** An annotation file and where it sits: `root` is "" or ends in "/"; `name` is its path below Annotations/. */
export interface AnnotationFile {
  file: SourceFile;
  root: string;
  name: string;
  devkit: boolean;
}

const DEVKIT_XML = /^(.*?)Annotations\/(.+\.xml)$/i;

/**
 * The devkit annotation files (`<root>Annotations/**.xml`) when there are any, else every XML file
 * of the upload (a loose folder of VOC files). Sorted by path.
 */
export function annotationFiles(source: ImportSource): AnnotationFile[] {
  const devkit: AnnotationFile[] = [];
  for (const file of source.files) {
    const match = DEVKIT_XML.exec(file.path);
    if (match && (match[1] === "" || match[1]?.endsWith("/"))) {
      devkit.push({ file, root: match[1] ?? "", name: match[2] ?? "", devkit: true });
    }
  }
  if (devkit.length > 0) return devkit;
  return source.files
    .filter((file) => extensionOf(file.path) === ".xml")
    .map((file) => ({ file, root: dirOf(file.path), name: file.path.slice(dirOf(file.path).length), devkit: false }));
}

/** Images of the upload, found case-insensitively by path or by path without extension. */
export class ImageIndex {
  private readonly byPath = new Map<string, SourceFile>();
  private readonly byStem = new Map<string, SourceFile[]>();
  private readonly byBaseName = new Map<string, SourceFile[]>();
  readonly images: SourceFile[];

  constructor(source: ImportSource) {
    this.images = source.files.filter((file) => isImagePath(file.path));
    for (const image of this.images) {
      const key = image.path.toLowerCase();
      this.byPath.set(key, image);
      push(this.byStem, withoutExtension(key), image);
      push(this.byBaseName, key.slice(key.lastIndexOf("/") + 1), image);
    }
  }

  path(path: string): SourceFile | undefined {
    return this.byPath.get(path.toLowerCase());
  }

  /** The one image whose path without extension is `stem` (a second one makes it ambiguous). */
  stem(stem: string): SourceFile | undefined {
    const found = this.byStem.get(stem.toLowerCase());
    return found?.length === 1 ? found[0] : undefined;
  }

  /** The one image anywhere in the upload with this file name. */
  baseName(name: string): SourceFile | undefined {
    const found = this.byBaseName.get(name.toLowerCase());
    return found?.length === 1 ? found[0] : undefined;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * The labelmap (datumaro's and CVAT's `labelmap.txt`: `name:color:parts:actions` a line, `#`
 * comments, background first) of a root: its label names in order, background left out.
 */
export async function readLabelmap(source: ImportSource, root: string): Promise<string[] | undefined> {
  const file = source.file(`${root}labelmap.txt`);
  if (!file) return undefined;
  const names: string[] = [];
  const lines = (await file.text()).split(/\r?\n/);
  lines.forEach((line, index) => {
    if (line.trim() === "" || line.startsWith("#")) return;
    const name = line.split(":")[0] ?? "";
    if (name === "") throw new ImportSourceError(`${file.path} line ${index + 1}: a label without a name`);
    if (names.length === 0 && name === "background") return;
    names.push(name);
  });
  return names;
}

/** Lists looked at first when an image is in several (VOC's trainval is train + val). */
const SPLIT_PRECEDENCE = ["train", "val", "test"];
/** The list datumaro and our exporter give images without a split. */
const UNSPLIT_LIST = "default";

export interface SplitLists {
  /** Split by `<root><name without .xml>` ("" for the unsplit list). */
  splits: Map<string, string>;
  /** Images named in more than one split list (the first by precedence wins). */
  conflicts: number;
}

/**
 * The splits of `<root>ImageSets/Main/<split>.txt` (one image name a line). Per-class lists
 * (`<class>_<split>.txt`, `name  1` lines) and `trainval` (when train or val exist) are left out.
 */
export async function readSplitLists(source: ImportSource, roots: readonly string[]): Promise<SplitLists> {
  const splits = new Map<string, string>();
  const listed = new Map<string, string>();
  let conflicts = 0;
  for (const root of roots) {
    const folder = `${root}ImageSets/Main/`;
    const lists = new Map<string, SourceFile>();
    for (const file of source.files) {
      const rest = file.path.slice(folder.length);
      if (file.path.startsWith(folder) && !rest.includes("/") && extensionOf(rest) === ".txt") {
        lists.set(withoutExtension(rest), file);
      }
    }
    const classList = (name: string) => name.includes("_") && lists.has(name.slice(name.lastIndexOf("_") + 1));
    const unionList = (name: string) => name === "trainval" && (lists.has("train") || lists.has("val"));
    const names = [...lists.keys()].filter((name) => !classList(name) && !unionList(name));
    names.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const file = lists.get(name) as SourceFile;
      for (const line of (await file.text()).split(/\r?\n/)) {
        // The whole line: names may hold spaces (per-class lists with their " 1" column are left out above).
        const entry = line.trim();
        if (entry === "") continue;
        const key = `${root}${entry.replaceAll("\\", "/")}`;
        const split = name === UNSPLIT_LIST ? "" : name;
        const known = listed.get(key);
        if (known === undefined) {
          listed.set(key, name);
          splits.set(key, split);
        } else if (known !== name) {
          conflicts += 1;
        }
      }
    }
  }
  return { splits, conflicts };
}

function rank(name: string): number {
  const index = SPLIT_PRECEDENCE.indexOf(name);
  return index >= 0 ? index : SPLIT_PRECEDENCE.length;
}
