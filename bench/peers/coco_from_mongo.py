# The export script users write today (the plugin export workflow's script-based approach): pymongo
# reads one dataset's items and annotations from MongoDB, builds COCO per split in memory and writes
# each with json.dump.
# usage: coco_from_mongo.py MONGODB_URL DB DATASET_ID OUT_DIR; prints one JSON line.
import json
import os
import resource
import sys
import time
from collections import defaultdict

from pymongo import MongoClient


def polygon_area(points):
    n = len(points) // 2
    twice = 0.0
    for i in range(n):
        j = (i + 1) % n
        twice += points[2 * i] * points[2 * j + 1] - points[2 * j] * points[2 * i + 1]
    return abs(twice) / 2


def main():
    url, db_name, dataset_id, out_dir = sys.argv[1:5]
    start = time.perf_counter()
    db = MongoClient(url)[db_name]
    dataset = db.datasets.find_one({"_id": dataset_id})
    categories = [
        {"id": c["id"], "name": c["name"], "supercategory": c.get("supercategory", "")} for c in dataset["categories"]
    ]
    known = {c["id"] for c in categories}

    by_item = defaultdict(list)
    for a in db.annotations.find({"datasetId": dataset_id, "removed": {"$ne": True}}):
        by_item[a["itemId"]].append(a)

    splits = {}
    for item in db.items.find({"datasetId": dataset_id, "status": "approved", "kind": "image"}).sort("_id", 1):
        split = item.get("split") or "default"
        coco = splits.get(split)
        if coco is None:
            coco = {
                "info": {"description": dataset["name"], "version": "1.0", "contributor": "script"},
                "licenses": [],
                "images": [],
                "annotations": [],
                "categories": categories,
            }
            splits[split] = coco
        media = item.get("media") or {}
        # _id is "<datasetId>/<id>" (ids are scoped per dataset); annotations name the public id.
        item_id = item["_id"][len(dataset_id) + 1 :]
        image_id = len(coco["images"]) + 1
        coco["images"].append(
            {
                "id": image_id,
                "file_name": media.get("fileName") or item_id + ".jpg",
                "width": media.get("width", 0),
                "height": media.get("height", 0),
            }
        )
        for a in sorted(by_item.pop(item_id, []), key=lambda a: a["_id"]):
            if a.get("categoryId") not in known:
                continue
            geometry = a.get("geometry") or {}
            if a["type"] == "bbox":
                b = geometry["bbox"]
                bbox = [b["x"], b["y"], b["width"], b["height"]]
                segmentation = []
                area = b["width"] * b["height"]
            elif a["type"] == "polygon":
                points = geometry["points"]
                xs, ys = points[0::2], points[1::2]
                bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
                segmentation = [points]
                area = polygon_area(points)
            else:
                continue
            coco["annotations"].append(
                {
                    "id": len(coco["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": a["categoryId"],
                    "segmentation": segmentation,
                    "area": area,
                    "bbox": bbox,
                    "iscrowd": 0,
                }
            )

    os.makedirs(os.path.join(out_dir, "annotations"), exist_ok=True)
    written = 0
    for split, coco in splits.items():
        path = os.path.join(out_dir, "annotations", f"instances_{split}.json")
        with open(path, "w") as f:
            json.dump(coco, f)
        written += os.path.getsize(path)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "maxRssKb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "images": sum(len(c["images"]) for c in splits.values()),
                "annotations": sum(len(c["annotations"]) for c in splits.values()),
                "bytes": written,
            }
        )
    )


main()
