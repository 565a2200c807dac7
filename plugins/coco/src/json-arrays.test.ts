import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { scanJsonArrays } from "./json-arrays.ts";

async function scan(text: string | Buffer, chunkSize: number, keys = ["images", "annotations"]) {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
  const out: Array<[string, number, unknown]> = [];
  for await (const e of scanJsonArrays(Readable.from(chunks), new Set(keys))) out.push([e.key, e.index, e.value]);
  return out;
}

const DOCUMENT = {
  info: { description: 'braces } ] { [ and "quotes" and \\ backslashes', nested: [[1, { a: "]" }]] },
  images: [
    { id: 1, file_name: '사진 "1".jpg' },
    { id: 2, file_name: "b\\\\c.png", tags: ["}"] },
  ],
  licenses: [],
  count: -12.5e3,
  annotations: [{ id: 1, segmentation: [[1, 2, 3, 4, 5, 6]], label: "\u00e9\u{1F600}" }],
  flag: true,
  none: null,
};

describe("scanJsonArrays", () => {
  it("yields the elements of the chosen arrays, whatever the chunk boundaries, skipping the rest", async () => {
    const text = `\ufeff${JSON.stringify(DOCUMENT, null, 2)}`;
    const expected = [
      ["images", 0, DOCUMENT.images[0]],
      ["images", 1, DOCUMENT.images[1]],
      ["annotations", 0, DOCUMENT.annotations[0]],
    ];
    for (const size of [1, 2, 3, 7, 64, 1 << 20]) expect(await scan(text, size), `chunks of ${size}`).toEqual(expected);
    expect(await scan(JSON.stringify(DOCUMENT), 5)).toEqual(expected);
  });

  it("names what is wrong and where", async () => {
    await expect(scan("[1, 2]", 10)).rejects.toThrow("the file is not a JSON object at byte 0");
    await expect(scan("", 10)).rejects.toThrow("the file is empty");
    await expect(scan('{"images": [{"id": 1}, {"id": ', 4)).rejects.toThrow(
      /ends inside the JSON object \(after "images"\)/,
    );
    await expect(scan('{"images": [1]}', 4)).rejects.toThrow('"images"[0] is not an object at byte 12');
    await expect(scan('{"images": [{"id": 01}]}', 4)).rejects.toThrow(/"images"\[0\]: .*JSON/);
    await expect(scan('{"images": []} x', 4)).rejects.toThrow("unexpected content after the JSON object");
  });
});
