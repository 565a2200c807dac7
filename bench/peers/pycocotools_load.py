# pycocotools loading COCO files and indexing them (COCO(path)), for the record.
# usage: pycocotools_load.py FILE...; prints one JSON line.
import contextlib
import json
import resource
import sys
import time

from pycocotools.coco import COCO


def main():
    start = time.perf_counter()
    images = annotations = 0
    for path in sys.argv[1:]:
        with contextlib.redirect_stdout(sys.stderr):  # COCO() prints progress
            coco = COCO(path)
        images += len(coco.getImgIds())
        annotations += len(coco.getAnnIds())
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "maxRssKb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "images": images,
                "annotations": annotations,
            }
        )
    )


main()
