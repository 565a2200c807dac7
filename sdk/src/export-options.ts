// Option building blocks every exporter shares (seed 002), and the zod instance plugins build
// their schemas with, so a plugin needs no zod of its own and the JSON Schema comes out the same.
import { z } from "zod";

export { z };

/** Spread into a plugin's `z.strictObject({...})`. */
export const commonOptionsShape = {
  categoryFolders: z
    .boolean()
    .default(false)
    .describe("Put per-item files in sub-folders named after the item's meta.category (seed 002)."),
};

export type CommonOptions = { categoryFolders: boolean };
