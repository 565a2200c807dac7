// DM Schema v1 (Synapse / DataMaker) JSON: an import format (no exporter yet).
export { DmJsonImporter as default, importers } from "./importer.ts";
