"""Reads a COCO instances file with pycocotools (a reader this project did not write) and
prints, per annotation id, the mask pycocotools decodes: its pixel count, the sum of its pixel
indices (row * width + col) and its bbox, plus pycocotools' own area of the RLE."""
import json
import sys

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

coco = COCO(sys.argv[1])
out = {}
for ann_id, ann in coco.anns.items():
    image = coco.imgs[ann["image_id"]]
    if not ann["segmentation"]:
        continue
    m = coco.annToMask(ann).astype(np.int64)
    rows, cols = np.nonzero(m)
    entry = {
        "pixels": int(m.sum()),
        "fingerprint": int((rows * image["width"] + cols).sum()),
    }
    if isinstance(ann["segmentation"], dict):
        rle = dict(ann["segmentation"])
        rle["counts"] = rle["counts"].encode("ascii")
        entry["rleArea"] = int(mask_utils.area(rle))
        entry["rleBbox"] = [float(v) for v in mask_utils.toBbox(rle)]
    out[str(ann_id)] = entry
print(json.dumps(out))
