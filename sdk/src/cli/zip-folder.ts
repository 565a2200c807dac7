// A folder as the ZIP an import expects, made while it uploads: `labelport import ./my_coco`
// sends the folder's files under their paths relative to it, without writing the archive to disk.
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import yazl from "yazl";

/** Already compressed: deflating them again costs time and saves nothing. */
const STORED = /\.(jpe?g|png|gif|webp|avif|heic|heif|tiff?|bmp|zip|gz|tgz|bz2|xz|zst|7z|mp4|mov|mkv|webm|avi)$/i;

interface FolderFile {
  path: string;
  /** The file's path in the ZIP: relative to the folder, `/`-separated. */
  name: string;
  size: number;
  mtime: Date;
}

export interface ZippedFolder {
  /** Files in the archive. */
  files: number;
  /** Their bytes before compression. */
  bytes: number;
  /** The ZIP's bytes, produced as they are read. */
  stream: AsyncIterable<Buffer>;
}

/** Regular files under `root` (links followed), in a stable order. */
async function listFiles(root: string, dir = root): Promise<FolderFile[]> {
  const found: FolderFile[] = [];
  const names = (await readdir(dir)).sort();
  for (const name of names) {
    const path = join(dir, name);
    const stats = await stat(path);
    if (stats.isDirectory()) found.push(...(await listFiles(root, path)));
    else if (stats.isFile()) {
      found.push({ path, name: relative(root, path).split(sep).join("/"), size: stats.size, mtime: stats.mtime });
    }
  }
  return found;
}

/**
 * Zips the folder's files; `onRead` hears every chunk read from them, for progress against
 * `bytes` (the ZIP's own size is only known at its end).
 */
export async function zipFolder(root: string, onRead: (bytes: number) => void = () => {}): Promise<ZippedFolder> {
  const files = await listFiles(root);
  if (files.length === 0) throw new Error(`${root}: the folder has no files to upload`);
  const zip = new yazl.ZipFile();
  const output = zip.outputStream as NodeJS.ReadableStream & { destroy(error?: Error): void };
  // A file that cannot be read fails the upload, naming the file, instead of ending the ZIP early.
  zip.on("error", (err: Error) => output.destroy(err));
  for (const file of files) {
    const options = { size: file.size, mtime: file.mtime, compress: !STORED.test(file.name) };
    zip.addReadStreamLazy(file.name, options, (done) => {
      const read = createReadStream(file.path);
      read.on("data", (chunk) => onRead(chunk.length));
      read.on("error", (err) => zip.emit("error", new Error(`${file.path}: ${err.message}`)));
      done(null, read);
    });
  }
  zip.end();
  return {
    files: files.length,
    bytes: files.reduce((n, f) => n + f.size, 0),
    stream: output as AsyncIterable<Buffer>,
  };
}
