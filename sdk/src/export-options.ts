// Option building blocks every exporter shares (the plugin export layout), and the zod instance
// plugins build their schemas with, so a plugin needs no zod of its own and the JSON Schema comes
// out the same.
import { z } from "zod";
import { OptionsError } from "./errors.ts";

export { z };

/** Spread into a plugin's `z.strictObject({...})`. */
export const commonOptionsShape = {
  categoryFolders: z
    .boolean()
    .default(false)
    .describe("Put per-item files in sub-folders named after the item's meta.category."),
  onMissingMedia: z
    .enum(["note", "fail"])
    .default("note")
    .describe(
      "With save_original_file, an original that is missing or refused: note it (counted, listed in metadata/missing_media.json) or fail the export.",
    ),
};

export type CommonOptions = { categoryFolders: boolean; onMissingMedia: "note" | "fail" };

/**
 * An export's raw options through the exporter's schema (defaults applied), as the runtime and the
 * conformance kit parse them; an OptionsError naming each field at fault.
 */
export function parseOptions<Options>(schema: z.ZodType<Options>, raw: unknown): Options {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throw new OptionsError(
    result.error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message })),
  );
}
