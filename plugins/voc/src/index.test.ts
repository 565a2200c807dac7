import { runSampleExport, type SampleExport, sampleDataset, testExporter } from "@labelport/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import VocExporter, { difficultOf, LABELMAP_KEY, labelmap, vocBox, vocColor } from "./index.ts";
import { escapeXml, stripForbiddenXmlChars } from "./xml.ts";

testExporter(VocExporter);

describe("voc boxes", () => {
  it("uses 1-based inclusive pixel indices", () => {
    expect(vocBox({ x: 10, y: 20, width: 100, height: 50 }, 640, 480)).toEqual({
      xmin: 11,
      ymin: 21,
      xmax: 110,
      ymax: 70,
      truncated: 0,
    });
    expect(vocBox({ x: 0, y: 0, width: 640, height: 480 }, 640, 480)).toEqual({
      xmin: 1,
      ymin: 1,
      xmax: 640,
      ymax: 480,
      truncated: 1,
    });
    expect(vocBox({ x: 10.4, y: 9.9999999, width: 5.2, height: 10.0000001 }, 640, 480)).toMatchObject({
      xmin: 11,
      ymin: 11,
      xmax: 16,
      ymax: 20,
    });
  });

  it("clips to the image, marks truncation and drops boxes outside", () => {
    expect(vocBox({ x: 600, y: 400, width: 100, height: 100 }, 640, 480)).toEqual({
      xmin: 601,
      ymin: 401,
      xmax: 640,
      ymax: 480,
      truncated: 1,
    });
    expect(vocBox({ x: 640, y: 0, width: 5, height: 5 }, 640, 480)).toBeNull();
  });

  it("reads difficult from the attribute", () => {
    expect(difficultOf({ difficult: true })).toBe(1);
    expect(difficultOf({ difficult: "1" })).toBe(1);
    expect(difficultOf({ difficult: false })).toBe(0);
    expect(difficultOf(undefined)).toBe(0);
  });
});

describe("xml text", () => {
  it("escapes markup and removes characters XML 1.0 forbids", () => {
    expect(escapeXml(`a & b <c> "d" 'e'`)).toBe("a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;");
    expect(stripForbiddenXmlChars("a\u0000b\u0001c\td\ne\uFFFEf\uD800g😀h")).toBe("abc\td\nefg😀h");
  });
});

describe("labelmap", () => {
  it("lists background and the categories in id order with VOC colours", () => {
    expect(vocColor(0)).toEqual([0, 0, 0]);
    expect(vocColor(1)).toEqual([128, 0, 0]);
    expect(vocColor(15)).toEqual([192, 128, 128]);
    expect(labelmap([{ id: 2, name: "b:x" } as never, { id: 1, name: "a" } as never])).toBe(
      "# label:color_rgb:parts:actions\nbackground:0,0,0::\na:128,0,0::\nb_x:0,128,0::\n",
    );
  });
});

describe("voc export of the sample dataset", () => {
  let run: SampleExport;
  beforeAll(async () => {
    // A category name with control characters, which XML 1.0 cannot hold even as references.
    const fixture = sampleDataset();
    const car = fixture.dataset.categories.find((c) => c.id === 2);
    if (car) car.name = "car\u0001\u0008";
    run = await runSampleExport(VocExporter, { fixture });
  });
  afterAll(() => run.cleanup());

  it("writes an XML file per sized image, split lists and a labelmap", async () => {
    const files = await run.files();
    expect(files.filter((f) => f.startsWith("Annotations/"))).toEqual([
      "Annotations/=formula.xml",
      "Annotations/street 01.xml",
      "Annotations/street 01_1.xml",
      "Annotations/자전거 사진.xml",
    ]);
    expect(await run.text("ImageSets/Main/train.txt")).toBe("street 01\n=formula\n");
    expect(await run.text("ImageSets/Main/default.txt")).toBe("street 01_1\n");
    expect((await run.text(LABELMAP_KEY)).split("\n")[2]).toBe("person:128,0,0::");
    const xml = await run.text("Annotations/street 01.xml");
    expect(xml).toContain("<filename>street 01.jpg</filename>");
    expect(xml).toContain("<depth>3</depth>");
    expect(xml).toContain("<xmin>11</xmin>");
    expect(xml).toContain("<name>car</name>");
    expect(await run.text("Annotations/=formula.xml")).toContain(
      "<name>sign &amp; &lt;signal&gt; &quot;stop&quot;, red</name>",
    );
  });
});
