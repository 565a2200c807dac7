// Paths inside a YOLO upload. Configs name folders and images with paths written for the machine
// that made them: relative to data.yaml's `path`, to the YAML's folder, `../train/images`
// (Roboflow), `data/obj/x.jpg` (darknet, relative to darknet's own folder) or absolute
// (/content/datasets/...). A path is looked up as written, then with leading folders removed,
// until it names something in the upload.
import type { ImportSource, SourceFile } from "@labelport/sdk";

/** Ultralytics' IMG_FORMATS (data/utils.py), upper- or lower-case. */
const IMAGE_EXTENSIONS = new Set([
  ".bmp",
  ".dng",
  ".jpeg",
  ".jpg",
  ".mpo",
  ".png",
  ".tif",
  ".tiff",
  ".webp",
  ".pfm",
  ".heic",
]);

export function extensionOf(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot).toLowerCase() : "";
}

export function isImagePath(path: string): boolean {
  return IMAGE_EXTENSIONS.has(extensionOf(path));
}

export function dirOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash >= 0 ? path.slice(0, slash + 1) : "";
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** `rel` joined to the folder `base` ("" or ending in "/"), `.` and `..` resolved; segments that climb above the upload are dropped. */
export function joinPath(base: string, rel: string): string {
  const out: string[] = [];
  for (const segment of `${base}${rel.replaceAll("\\", "/")}`.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") out.pop();
    else out.push(segment);
  }
  return out.join("/");
}

/** Finds files and folders of the upload from paths written elsewhere. */
export class UploadPaths {
  private readonly folders = new Set<string>();

  constructor(private readonly source: ImportSource) {
    for (const file of source.files) {
      let dir = dirOf(file.path);
      while (dir !== "" && !this.folders.has(dir)) {
        this.folders.add(dir);
        dir = dirOf(dir.slice(0, -1));
      }
    }
  }

  /** The file `path` names, tried from each base, then with its leading folders removed. */
  file(path: string, bases: readonly string[]): SourceFile | undefined {
    for (const candidate of this.candidates(path, bases)) {
      const file = this.source.file(candidate);
      if (file) return file;
    }
    return undefined;
  }

  /** The folder `path` names ("" for the upload's root, else ending in "/"), found the same way. */
  folder(path: string, bases: readonly string[]): string | undefined {
    for (const candidate of this.candidates(path, bases)) {
      if (candidate === "" || this.folders.has(`${candidate}/`)) return candidate === "" ? "" : `${candidate}/`;
    }
    return undefined;
  }

  private *candidates(path: string, bases: readonly string[]): Iterable<string> {
    const rel = path.replaceAll("\\", "/").replace(/^[a-zA-Z]:\//, "/");
    if (!rel.startsWith("/")) for (const base of bases) yield joinPath(base, rel);
    const segments = rel.split("/").filter((s) => s !== "" && s !== "." && s !== "..");
    for (let i = 0; i < segments.length; i++) {
      for (const base of bases) yield joinPath(base, segments.slice(i).join("/"));
    }
  }
}
