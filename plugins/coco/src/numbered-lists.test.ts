import { describe, expect, it } from "vitest";
import { type NumberedListSource, writeNumberedList } from "./numbered-lists.ts";

const lines = ['{"id":1,"image_id":1,"a":"x"}', '{"id":2,"image_id":1,"a":"y,\\n"}', '{"id":3,"image_id":2,"a":"z"}'];
const text = `${lines.join("\n")}\n`;

/** The part's bytes cut into chunks of `size` (lines split anywhere). */
async function* chunksOf(bytes: string, size: number): AsyncGenerator<Uint8Array> {
  const buffer = Buffer.from(bytes);
  for (let at = 0; at < buffer.length; at += size) yield buffer.subarray(at, at + size);
}

async function written(sources: NumberedListSource[]): Promise<{ text: string; count: number }> {
  const out: Buffer[] = [];
  const writer = {
    key: "x",
    async write(chunk: Uint8Array | string) {
      out.push(Buffer.from(chunk));
    },
    async close() {},
  };
  const count = await writeNumberedList(writer, sources, new AbortController().signal);
  return { text: Buffer.concat(out).toString(), count };
}

const source = (bytes: string, size: number, shift: NumberedListSource["shift"], count = 3) => ({
  name: "part",
  chunks: chunksOf(bytes, size),
  count,
  shift,
});

describe("writeNumberedList", () => {
  it("copies a source without a shift as it is, whatever its chunks, only the separators changed", async () => {
    for (const size of [1, 2, 7, 30, 1000]) {
      const { text: out, count } = await written([source(text, size, { id: 0, imageId: 0 })]);
      expect(count).toBe(3);
      expect(out).toBe(`\n${lines.join(",\n")}`);
      expect(JSON.parse(`[${out}\n]`)).toHaveLength(3);
    }
  });

  it("joins an unshifted source and a shifted one into one numbered list", async () => {
    const { text: out, count } = await written([
      source(text, 5, { id: 0, imageId: 0 }),
      source(text, 9, { id: 3, imageId: 2 }),
    ]);
    expect(count).toBe(6);
    const objects = JSON.parse(`[${out}\n]`) as { id: number; image_id: number }[];
    expect(objects.map((o) => [o.id, o.image_id])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
      [4, 3],
      [5, 3],
      [6, 4],
    ]);
  });

  it("refuses a truncated part and a part that does not hold the lines its shard counted", async () => {
    await expect(written([source(text.slice(0, -1), 4, { id: 0 })])).rejects.toThrow(/last line has no newline/);
    await expect(written([source(text, 4, { id: 0 }, 4)])).rejects.toThrow(/part: 3 lines where the shard wrote 4/);
  });
});
