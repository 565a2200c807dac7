// The SplitItems planner alone (no server): ranges are consecutive, cover every id once, end at
// item ids, and come out about equal even when one item is far larger than the rest.
import { describe, expect, it } from "vitest";
import { type ItemSize, type PlannedRange, planRanges } from "./split-items.ts";

async function* feed(sizes: ItemSize[]): AsyncGenerator<ItemSize> {
  yield* sizes;
}

const id = (i: number) => `item-${String(i).padStart(6, "0")}`;

/** 2001 items of 1 annotation each, and one of 1000 at position `at`. */
function skewed(at: number): ItemSize[] {
  return Array.from({ length: 2002 }, (_, i) => ({ itemId: id(i), annotations: i === at ? 1000 : 1 }));
}

/** Which range each item falls in by the ranges' bounds alone, as StreamItems(after_id, last_id) reads them. */
function rangeOf(ranges: PlannedRange[], itemId: string): number[] {
  return ranges.flatMap((r, i) =>
    (r.afterId === "" || itemId > r.afterId) && (r.lastId === "" || itemId <= r.lastId) ? [i] : [],
  );
}

function expectCover(ranges: PlannedRange[], sizes: ItemSize[]) {
  expect(ranges[0]?.afterId).toBe("");
  expect(ranges[ranges.length - 1]?.lastId).toBe("");
  for (let i = 1; i < ranges.length; i++) {
    expect(ranges[i]?.afterId, `range ${i} starts where ${i - 1} ends`).toBe(ranges[i - 1]?.lastId);
  }
  const ids = new Set(sizes.map((s) => s.itemId));
  for (const range of ranges.slice(0, -1)) expect(ids.has(range.lastId), `boundary ${range.lastId}`).toBe(true);
  const counted = ranges.map(() => ({ items: 0, annotations: 0 }));
  for (const size of sizes) {
    const inRanges = rangeOf(ranges, size.itemId);
    expect(inRanges, size.itemId).toHaveLength(1);
    const c = counted[inRanges[0] as number] as { items: number; annotations: number };
    c.items += 1;
    c.annotations += size.annotations;
  }
  expect(ranges.map((r) => ({ items: r.items, annotations: r.annotations }))).toEqual(counted);
}

describe("planRanges", () => {
  it.each([0, 700, 2001])("keeps the ranges about equal around one item of 1000 annotations (at %i)", async (at) => {
    const sizes = skewed(at);
    const ranges = await planRanges(feed(sizes), { target: 3001 / 4, maxRanges: 4 });
    expect(ranges.length).toBeLessThanOrEqual(4);
    expect(ranges.length).toBeGreaterThanOrEqual(3);
    expectCover(ranges, sizes);
    // The big item's range holds it and at most a few hundred more; no other range passes the target.
    const big = ranges[rangeOf(ranges, id(at))[0] as number] as PlannedRange;
    expect(big.annotations).toBeGreaterThanOrEqual(1000);
    for (const range of ranges) {
      if (range !== big && range !== ranges[ranges.length - 1]) expect(range.annotations).toBeLessThanOrEqual(751);
    }
  });

  it("gives as many ranges as asked of a uniform dataset, each of the target", async () => {
    const sizes = Array.from({ length: 300 }, (_, i) => ({ itemId: id(i), annotations: 5 }));
    const ranges = await planRanges(feed(sizes), { target: 1500 / 3, maxRanges: 3 });
    expect(ranges.map((r) => r.annotations)).toEqual([500, 500, 500]);
    expectCover(ranges, sizes);
  });

  it("never gives more than maxRanges: the last range takes the rest", async () => {
    const sizes = Array.from({ length: 1000 }, (_, i) => ({ itemId: id(i), annotations: 3 }));
    const ranges = await planRanges(feed(sizes), { target: 10, maxRanges: 256 });
    expect(ranges).toHaveLength(256);
    expectCover(ranges, sizes);
  });

  it("gives fewer ranges when there are fewer items, and one covering everything when there are none", async () => {
    const sizes = [
      { itemId: id(1), annotations: 9 },
      { itemId: id(2), annotations: 0 },
    ];
    const ranges = await planRanges(feed(sizes), { target: 1, maxRanges: 8 });
    expect(ranges.length).toBeLessThanOrEqual(2);
    expectCover(ranges, sizes);
    expect(await planRanges(feed([]), { target: 1, maxRanges: 8 })).toEqual([
      { afterId: "", lastId: "", items: 0, annotations: 0 },
    ]);
  });
});
