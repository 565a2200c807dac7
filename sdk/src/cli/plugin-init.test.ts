// `labelport-plugin init`: what it refuses and what it writes (test/plugin-author.test.ts runs
// the written package's tests and serves it to a live stack).
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SDK_VERSION } from "../version.ts";
import { initPlugin } from "./plugin-init.ts";

let dir = "";
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("labelport-plugin init", () => {
  it("writes an ES module package that depends on this SDK and default-exports its exporter", async () => {
    dir = await mkdtemp(join(tmpdir(), "labelport-init-"));
    const written = await initPlugin({ name: "street-boxes", dir: join(dir, "p") });
    const pkg = JSON.parse(await readFile(join(written, "package.json"), "utf8"));
    expect(pkg).toMatchObject({
      type: "module",
      exports: { ".": "./src/index.ts" },
      dependencies: { "@labelport/sdk": `^${SDK_VERSION}` },
    });
    const source = await readFile(join(written, "src/index.ts"), "utf8");
    expect(source).toContain("export default class StreetBoxesExporter extends BaseExporter<Options>");
    expect(source).toContain('formats: ["street-boxes"]');
    expect(await readFile(join(written, "src/index.test.ts"), "utf8")).toContain("testExporter(StreetBoxesExporter)");
  });

  it("refuses a name that cannot be a format, and a directory that is not empty", async () => {
    dir = await mkdtemp(join(tmpdir(), "labelport-init-"));
    await expect(initPlugin({ name: "Street.Boxes", dir })).rejects.toThrow(
      'plugin name "Street.Boxes": use lowercase letters, digits and -',
    );
    await writeFile(join(dir, "keep.txt"), "");
    await expect(initPlugin({ name: "boxes", dir })).rejects.toThrow(`${dir} is not empty`);
  });
});
