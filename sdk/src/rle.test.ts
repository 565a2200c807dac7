// The RLE helpers against pycocotools, the reference implementation: the same compressed strings,
// the same counts decoded from them, the same area and bounding box.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensurePythonTools, runPythonJson } from "../../test/support/python.ts";
import { AnnotationSchema } from "./gen/labelport/v1/dataset_pb.ts";
import { geometryJson } from "./item-json.ts";
import { decodeRleString, encodeRleString, maskArea, maskBoundingBox, type RleMask } from "./rle.ts";

interface Reference {
  string: string;
  area: number;
  bbox: number[];
}

// Given counts: pycocotools compresses them (frPyObjects) and measures them. Random bitmaps:
// pycocotools encodes the pixels, numpy gives the runs independently (column-major, 0s first).
const pycocotools = `
import json, sys
import numpy as np
from pycocotools import mask as M

def measured(rle):
    return {"string": rle["counts"].decode("ascii"), "area": int(M.area(rle)), "bbox": [float(v) for v in M.toBbox(rle)]}

given = [measured(M.frPyObjects({"size": [c["height"], c["width"]], "counts": c["counts"]}, c["height"], c["width"]))
         for c in json.load(open(sys.argv[1]))]

rng = np.random.default_rng(7)
bitmaps = []
for n in range(40):
    h, w = int(rng.integers(1, 60)), int(rng.integers(1, 60))
    pixels = np.zeros((h, w), dtype=np.uint8)
    for _ in range(int(rng.integers(0, 4))):
        y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
        pixels[y:y + int(rng.integers(1, h + 1)), x:x + int(rng.integers(1, w + 1))] = 1
    if n % 5 == 4:
        pixels = (rng.random((h, w)) < 0.5).astype(np.uint8)
    flat = pixels.flatten(order="F")
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    counts = np.diff(np.concatenate([[0], edges])).tolist()
    rle = M.encode(np.asfortranarray(pixels))
    bitmaps.append({"width": w, "height": h, "counts": [int(c) for c in counts], **measured(rle)})
print(json.dumps({"given": given, "bitmaps": bitmaps}))
`;

function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

/** Counts that add up to width * height, no empty run after the first. */
function randomMask(next: () => number, width: number, height: number, maxRun: number): RleMask {
  const counts: number[] = [Math.floor(next() * 3) === 0 ? 0 : 1 + Math.floor(next() * maxRun)];
  let left = width * height - (counts[0] as number);
  while (left > 0) {
    const run = Math.min(left, 1 + Math.floor(next() * maxRun));
    counts.push(run);
    left -= run;
  }
  return { width, height, counts };
}

const next = random(11);
const GIVEN: RleMask[] = [
  { width: 4, height: 3, counts: [0, 5, 2, 5] }, // starts with 1s, ends with 1s
  { width: 4, height: 3, counts: [12] }, // nothing set
  { width: 4, height: 3, counts: [0, 12] }, // everything set
  { width: 1, height: 1, counts: [0, 1] },
  { width: 3, height: 5, counts: [4, 1, 10] }, // one pixel
  { width: 3, height: 5, counts: [4, 2, 9] }, // a run across two columns
  // Runs near 2^32 make 33-bit differences, the longest groups the string form has.
  { width: 65_536, height: 65_536, counts: [2 ** 32 - 2, 1, 1] },
  { width: 65_536, height: 65_536, counts: [1, 2 ** 32 - 3, 1, 1] },
  { width: 131_072, height: 65_536, counts: [1, 2 ** 32 - 1, 1, 2 ** 32 - 1, 1] },
  ...Array.from({ length: 30 }, (_, i) =>
    randomMask(
      next,
      1 + Math.floor(next() * 400),
      1 + Math.floor(next() * 300),
      [3, 50, 5000, 70_000][i % 4] as number,
    ),
  ),
];

let given: Reference[];
let bitmaps: Array<Reference & RleMask>;
let dir: string;

beforeAll(async () => {
  await ensurePythonTools();
  dir = await mkdtemp(join(tmpdir(), "labelport-rle-"));
  await writeFile(join(dir, "given.json"), JSON.stringify(GIVEN));
  ({ given, bitmaps } = await runPythonJson<{ given: Reference[]; bitmaps: Array<Reference & RleMask> }>(pycocotools, [
    join(dir, "given.json"),
  ]));
}, 900_000);
afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

describe("RLE helpers match pycocotools", () => {
  it("compresses counts to the same strings and decodes them back", () => {
    GIVEN.forEach((mask, i) => {
      const reference = given[i] as Reference;
      expect(encodeRleString(mask.counts), `mask ${i}`).toBe(reference.string);
      expect(decodeRleString(reference.string), `mask ${i}`).toEqual(mask.counts);
    });
  });

  it("measures the same area and bounding box", () => {
    GIVEN.forEach((mask, i) => {
      // pycocotools measures its own string, and its decoder shifts 5-bit groups in a 32-bit int:
      // it misreads runs from 2^30 on (images of a billion pixels), which it compresses correctly.
      if (mask.counts.some((n) => n >= 2 ** 30)) return;
      const reference = given[i] as Reference;
      expect(maskArea(mask), `mask ${i}`).toBe(reference.area);
      expect(maskBoundingBox(mask), `mask ${i}`).toEqual(reference.bbox);
    });
  });

  it("reads the strings pycocotools encodes from pixels as the pixels' runs", () => {
    expect(bitmaps).toHaveLength(40);
    for (const bitmap of bitmaps) {
      expect(decodeRleString(bitmap.string)).toEqual(bitmap.counts);
      expect(encodeRleString(bitmap.counts)).toBe(bitmap.string);
      expect(maskArea(bitmap)).toBe(bitmap.area);
      expect(maskBoundingBox(bitmap)).toEqual(bitmap.bbox);
    }
  });
});

describe("decodeRleString", () => {
  it("names what is wrong with a malformed string", () => {
    expect(decodeRleString("")).toEqual([]);
    expect(() => decodeRleString("0p")).toThrow('RLE string: character 1 ("p") is not one of "0" to "o"');
    expect(() => decodeRleString("2 ")).toThrow("character 1");
    expect(() => decodeRleString("0P")).toThrow("ends inside the count at character 1");
    expect(() => decodeRleString("PPPPPPP1")).toThrow("the count at character 0 is too long");
    // A negative first count ("O" is -1).
    expect(() => decodeRleString("O")).toThrow("the count at character 0 is -1, outside 0 to 4294967295");
  });
});

describe("geometryJson of a mask", () => {
  it("is {width, height, counts} with every field present", () => {
    const annotation = create(AnnotationSchema, { geometry: { case: "mask", value: { width: 2, counts: [4] } } });
    expect(geometryJson(annotation)).toEqual({ width: 2, height: 0, counts: [4] });
  });
});
