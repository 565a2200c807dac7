// CVAT for images 1.1 XML: an import-only plugin (Labelport writes no CVAT), so the importer is also the default export.
import { CvatImporter } from "./importer.ts";

export const importers = [CvatImporter];
export default CvatImporter;
