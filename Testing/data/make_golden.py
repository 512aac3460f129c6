"""Regenerate the golden end-to-end case: the bundled model's labelmap of a fixed-seed phantom.

Run after the bundled model changes (and review the change):  python Testing/data/make_golden.py
Writes Testing/data/golden/phantom7_labelmap.nii.gz and phantom7.json (how it was made, with the model's sha256).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from liverlesion.inference.pipeline import Segmenter
from liverlesion.io import write_labelmap
from liverlesion.phantom import generate_phantom

GOLDEN = Path(__file__).resolve().parent / "golden"
CASE = {"seed": 7, "shape": [48, 192, 192], "n_lesions": 3}
LABELMAP = GOLDEN / "phantom7_labelmap.nii.gz"
RECORD = GOLDEN / "phantom7.json"


def golden_phantom():
    """The phantom of the golden case (deterministic)."""
    return generate_phantom(CASE["seed"], shape=tuple(CASE["shape"]), n_lesions=CASE["n_lesions"])


def main() -> None:
    segmenter = Segmenter.load(None, "onnxruntime")
    result = segmenter(golden_phantom().ct)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    write_labelmap(LABELMAP, result.labelmap)
    package = segmenter.package
    record = {
        **CASE,
        "model": {"name": package.name, "version": package.version, "files": package.metadata["files"]},
        "backend": "onnxruntime",
        "label_counts": np.bincount(result.labelmap.array.ravel(), minlength=5).tolist(),
        "lesions": [lesion.lesion_class for lesion in result.lesions],
    }
    RECORD.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {LABELMAP} and {RECORD}: {record['label_counts']}, lesions {record['lesions']}")


if __name__ == "__main__":
    main()
