// Reads V8 .cpuprofile files (node --cpu-prof) and prints where the time went: self time by
// area (MongoDB driver and BSON, protobuf, Connect, JSON, zod, GC, idle...) and the top functions.
// usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile...
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { pathToFileURL } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const AREAS: Array<[RegExp, string]> = [
  [/node_modules\/(bson)\//, "BSON decode/encode"],
  [/node_modules\/mongodb\//, "MongoDB driver"],
  [/node_modules\/@bufbuild\/protobuf\//, "protobuf (de)serialization"],
  [/node_modules\/@connectrpc\//, "Connect"],
  [/node_modules\/zod\//, "zod validation"],
  [/node_modules\/nats\//, "NATS client"],
  [/node_modules\/(busboy|streamsearch)\//, "multipart (busboy)"],
  [/node_modules\/pino/, "logging"],
  [/node_modules\/(tsx|esbuild|get-tsconfig)\//, "tsx (module loading)"],
  [/\/sdk\/src\/storage\//, "sdk storage"],
  [/\/sdk\/src\/gen\//, "sdk generated code"],
  [/\/sdk\/src\//, "sdk"],
  [/\/plugins\/[^/]+\/src\//, "plugin code"],
  [/\/services\/orchestrator\/src\/data\/import\//, "orchestrator import"],
  [/\/services\/orchestrator\/src\//, "orchestrator"],
  [/^node:internal\/(fs|streams|stream)|^node:(fs|stream)/, "node streams/fs"],
  [/^node:internal\/(http|http2|net|tls)|^node:(http|http2|net)|_http_/, "node http/net"],
  [/^node:/, "node internals"],
  [/node_modules\//, "other packages"],
];

function areaOf(frame: ProfileNode["callFrame"]): string {
  const { url, functionName } = frame;
  if (url === "") {
    if (functionName === "(garbage collector)") return "GC";
    if (functionName === "(idle)") return "idle";
    if (functionName === "(program)") return "(program: native, not attributed)";
    if (/^(parse|stringify)$/.test(functionName)) return "JSON parse/stringify";
    return `native: ${functionName || "(anonymous)"}`;
  }
  for (const [pattern, area] of AREAS) if (pattern.test(url)) return area;
  return "other";
}

function shortUrl(url: string): string {
  const at = url.search(/node_modules\/|\/(sdk|plugins|services)\//);
  return at >= 0 ? url.slice(at) : url;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  areas: Array<{ area: string; ms: number; share: number }>;
  functions: Array<{ name: string; where: string; ms: number; share: number }>;
}

export function summarizeProfile(path: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const areas = new Map<string, number>();
  const functions = new Map<string, { name: string; where: string; us: number }>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = nodes.get(id);
    if (!node) continue;
    totalUs += us;
    const area = areaOf(node.callFrame);
    if (area === "idle") idleUs += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    const where = node.callFrame.url ? `${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}` : "";
    const key = `${node.callFrame.functionName}@${where}`;
    const entry = functions.get(key) ?? { name: node.callFrame.functionName || "(anonymous)", where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
  }
  const busyUs = totalUs - idleUs;
  const share = (us: number) => (busyUs > 0 ? us / busyUs : 0);
  return {
    file: path,
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    areas: [...areas]
      .filter(([area]) => area !== "idle")
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, ms: us / 1000, share: share(us) })),
    functions: [...functions.values()]
      .filter((f) => f.name !== "(idle)")
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, ms: f.us / 1000, share: share(f.us) })),
  };
}

export function formatSummary(summary: ProfileSummary, areas = 8, functions = 12): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const lines = [
    `${basename(summary.file)}: ${(summary.busyMs / 1000).toFixed(2)} s on CPU of ${(summary.totalMs / 1000).toFixed(2)} s sampled`,
    "  by area (self time):",
    ...summary.areas.slice(0, areas).map((a) => `    ${pct(a.share)}  ${a.area}`),
    "  top functions (self time):",
    ...summary.functions.slice(0, functions).map((f) => `    ${pct(f.share)}  ${f.name}  ${f.where}`),
  ];
  return lines.join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write("usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile...\n");
    process.exit(2);
  }
  for (const file of files) process.stdout.write(`${formatSummary(summarizeProfile(file))}\n\n`);
}
