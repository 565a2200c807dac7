// What a plugin module's exports become: one exporter and each importer once.
import { describe, expect, it } from "vitest";
import { BaseImporter, type ImportBatch, type ImportContext } from "../importer.ts";
import { z } from "../index.ts";
import { pluginModuleOf } from "./plugin-cli.ts";

class ShapesImporter extends BaseImporter<Record<string, never>> {
  static override manifest = { name: "shapes", version: "1.0.0", formats: ["shapes"], sdk: "^0.1.0" };
  readonly options = z.strictObject({});
  async *import(_ctx: ImportContext<Record<string, never>>): AsyncGenerator<ImportBatch> {
    yield* [];
  }
}

describe("pluginModuleOf", () => {
  it("counts a default-exported importer that `importers` lists too once", () => {
    const plugin = pluginModuleOf({ default: ShapesImporter, importers: [ShapesImporter] }, "shapes");
    expect(plugin.importers).toEqual([ShapesImporter]);
    expect(plugin.exporter).toBeUndefined();
  });
});
