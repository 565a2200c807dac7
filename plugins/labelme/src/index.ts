// LabelMe JSON: an import-only plugin (Labelport writes no LabelMe), so the importer is also the default export.
import { LabelmeImporter } from "./importer.ts";

export const importers = [LabelmeImporter];
export default LabelmeImporter;
