// testImporter(): the contract every importer plugin runs, the mirror of testExporter. Manifest,
// options schema, the author's sample uploads imported through runImport (deterministic records,
// unique item ids, annotations naming known categories, counts that add up), refusal of uploads
// that are not the format with an ImportSourceError that says why, and stopping on abort.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { isImportSourceError, isOptionsError } from "../errors.ts";
import type { ImporterClass } from "../importer.ts";
import { itemToJson } from "../item-json.ts";
import { validateManifest } from "../manifest.ts";
import { runSampleImport, type SampleUpload } from "./run-sample-import.ts";

export interface ImporterSample {
  name: string;
  upload: SampleUpload;
  options?: Record<string, unknown>;
  /** Items and annotations the records must hold. */
  expected: { items: number; annotations: number; dropped?: number };
}

export interface ImporterSuiteOptions {
  /** At least one upload of the format, as the tools that write it do. */
  samples: readonly ImporterSample[];
}

const NOT_THE_FORMAT: readonly SampleUpload[] = [
  { files: { "notes.bin": new Uint8Array([0, 159, 146, 150, 255, 0, 1]) }, single: true },
  { files: { "readme.txt": "this is not a dataset\n" } },
  { files: {} },
];

export function testImporter(Importer: ImporterClass<unknown>, suite: ImporterSuiteOptions): void {
  const manifest = Importer.manifest;
  describe(`importer contract: ${manifest?.name ?? Importer.name}`, () => {
    it("has a manifest: name, semver version, formats and an SDK range this SDK satisfies", () => {
      validateManifest(manifest);
    });

    it("publishes its options as JSON Schema, has defaults for all, and rejects unknown keys", () => {
      const importer = new Importer();
      const schema = z.toJSONSchema(importer.options, { io: "input" }) as Record<string, unknown>;
      expect(schema.type).toBe("object");
      expect(importer.options.safeParse({}).success).toBe(true);
      const unknown = importer.options.safeParse({ definitelyNotAnOption: 1 });
      expect(unknown.success).toBe(false);
    });

    for (const sample of suite.samples) {
      it(`imports ${sample.name}: deterministic records whose counts add up`, async () => {
        const first = await runSampleImport(Importer, sample.upload, { options: sample.options });
        const second = await runSampleImport(Importer, sample.upload, { options: sample.options });
        const json = (run: typeof first) => JSON.stringify(run.items.map((i) => itemToJson(i)));
        expect(json(second)).toBe(json(first));
        expect(second.conversion).toEqual(first.conversion);
        const { conversion, items } = first;
        expect(conversion.items).toBe(items.length);
        const annotations = items.reduce((sum, item) => sum + item.annotations.length, 0);
        expect(conversion.annotations).toBe(annotations);
        expect({ items: items.length, annotations }).toEqual({
          items: sample.expected.items,
          annotations: sample.expected.annotations,
        });
        const dropped = Object.values(conversion.dropped).reduce((sum, n) => sum + n, 0);
        expect(dropped).toBe(sample.expected.dropped ?? 0);
        for (const reason of Object.keys(conversion.dropped)) expect(reason.trim()).not.toBe("");
        const ids = new Set(items.map((i) => i.id));
        expect(ids.size).toBe(items.length);
        const categoryIds = new Set(conversion.categories.map((c) => c.id));
        for (const item of items) {
          const annotationIds = new Set(item.annotations.map((a) => a.id));
          expect(annotationIds.size, `annotation ids of ${item.id} are unique`).toBe(item.annotations.length);
          for (const annotation of item.annotations) {
            if (annotation.categoryId !== undefined) {
              expect(categoryIds.has(annotation.categoryId), `category ${annotation.categoryId} is declared`).toBe(
                true,
              );
            }
          }
        }
      });
    }

    it("refuses uploads that are not its format with an ImportSourceError or OptionsError naming the problem", async () => {
      for (const upload of NOT_THE_FORMAT) {
        const err = await runSampleImport(Importer, upload).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, `upload ${Object.keys(upload.files).join(",") || "(empty zip)"} is refused`).toBeDefined();
        expect(isImportSourceError(err) || isOptionsError(err), String(err)).toBe(true);
        expect((err as Error).message.length).toBeGreaterThan(10);
      }
    });

    it("stops when its signal aborts", async () => {
      const sample = suite.samples[0];
      if (!sample) return;
      const controller = new AbortController();
      controller.abort(new Error("canceled"));
      await expect(
        runSampleImport(Importer, sample.upload, { options: sample.options, signal: controller.signal }),
      ).rejects.toThrow("canceled");
    });
  });
}
