// DM Schema v1 (Synapse / DataMaker) JSON: the exporter (seed 002's Synapse JSON) and its importer.
export { DmJsonExporter as default } from "./exporter.ts";
export { importers } from "./importer.ts";
