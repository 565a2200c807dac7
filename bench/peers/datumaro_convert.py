# datumaro converting a COCO export (annotations/instances_<split>.json) to another format, as
# users convert with it today. The benchmark has no media, so datumaro gets the annotations beside
# an empty images/ folder (it refuses a COCO root without one); image sizes come from the JSON.
# usage: datumaro_convert.py SRC_DIR OUT_DIR FORMAT; prints one JSON line.
import json
import logging
import os
import resource
import sys
import tempfile
import time

logging.disable(logging.WARNING)
import datumaro as dm  # noqa: E402


def main():
    src, out, fmt = sys.argv[1:4]
    with tempfile.TemporaryDirectory() as root:
        os.symlink(os.path.abspath(os.path.join(src, "annotations")), os.path.join(root, "annotations"))
        os.mkdir(os.path.join(root, "images"))
        start = time.perf_counter()
        dataset = dm.Dataset.import_from(root, "coco_instances")
        dataset.export(out, fmt, save_media=False)
        seconds = time.perf_counter() - start
    written = 0
    for root, _dirs, files in os.walk(out):
        for name in files:
            written += os.path.getsize(os.path.join(root, name))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "maxRssKb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "items": len(dataset),
                "annotations": sum(len(item.annotations) for item in dataset),
                "bytes": written,
            }
        )
    )


main()
