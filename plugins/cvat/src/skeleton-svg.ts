// A CVAT skeleton's edges. CVAT keeps the skeleton as the SVG its editor drew: a <circle> per point
// (data-node-id, data-label-name: the sub-label) and a <line> per edge (data-node-from/to: node
// ids). Edges become 1-based indices into the category's keypoint names, as COCO's skeleton is.

const TAG = /<(line|circle)\b([^>]*)>/g;
const ATTRIBUTE = /([\w-]+)\s*=\s*"([^"]*)"/g;

export interface SkeletonEdgeInit {
  fromKeypoint: number;
  toKeypoint: number;
}

/** The edges of `svg` between the named keypoints; edges naming an unknown node are left out. */
export function skeletonEdges(svg: string, keypointNames: readonly string[]): SkeletonEdgeInit[] {
  const nodeNames = new Map<string, string>();
  const lines: [string, string][] = [];
  for (const [, tag, body] of svg.matchAll(TAG)) {
    const attrs = new Map([...(body ?? "").matchAll(ATTRIBUTE)].map(([, name, value]) => [name, value ?? ""]));
    if (tag === "circle" && attrs.has("data-node-id")) {
      nodeNames.set(attrs.get("data-node-id") as string, attrs.get("data-label-name") ?? "");
    } else if (tag === "line" && attrs.has("data-node-from") && attrs.has("data-node-to")) {
      lines.push([attrs.get("data-node-from") as string, attrs.get("data-node-to") as string]);
    }
  }
  // A circle without a label name (older CVAT) is the keypoint at its node id's position.
  const index = (node: string) => {
    const named = keypointNames.indexOf(nodeNames.get(node) ?? "") + 1;
    if (named > 0) return named;
    const position = Number(node);
    return Number.isInteger(position) && position >= 1 && position <= keypointNames.length ? position : 0;
  };
  const edges: SkeletonEdgeInit[] = [];
  for (const [from, to] of lines) {
    const fromKeypoint = index(from);
    const toKeypoint = index(to);
    if (fromKeypoint && toKeypoint) edges.push({ fromKeypoint, toKeypoint });
  }
  return edges;
}
