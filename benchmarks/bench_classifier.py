"""Speed of the lesion crop classifier: ``classify_lesions`` (crop extraction + ONNX Runtime, 1 thread).

Usage: ``OMP_NUM_THREADS=1 python benchmarks/bench_classifier.py [MODEL_DIR]`` (default /tmp/classifier-model).
Cases: a held-out phantom (seed 5003, 8 lesions) and 5 lesions inserted into the IRCAD 7 liver box (seed 131).
Prints JSON: lesions, crops/s, ms per call and (truth, predicted) per lesion.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from liverlesion.classifier.dataset import lesion_instances, load_ircad_liver
from liverlesion.classifier.predict import ClassifierSession, classify_lesions
from liverlesion.labels import LESION_CLASSES
from liverlesion.phantom import generate_phantom, insert_lesions
from liverlesion.volume import Volume

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def measure(ct, spacing, labels, session, repeats: int = 5) -> dict:
    instances, classes = lesion_instances(labels)
    classify_lesions(ct, spacing, instances, session)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        result = classify_lesions(ct, spacing, instances, session)
    seconds = (time.perf_counter() - start) / repeats
    return {"shape": list(ct.shape), "lesions": len(result), "crops_per_s": round(len(result) / seconds, 1),
            "ms_per_call": round(1000 * seconds, 1),
            "truth_vs_predicted": [(LESION_CLASSES[classes[i]], max(result[i], key=result[i].get))
                                   for i in sorted(result)]}


def main() -> None:
    session = ClassifierSession.load(sys.argv[1] if len(sys.argv) > 1 else "/tmp/classifier-model", threads=1)
    phantom = generate_phantom(5003, n_lesions=8)
    out = {"phantom_seed_5003": measure(phantom.ct.array, phantom.ct.spacing, phantom.labels.array, session)}
    if (SHARED_DATA / "ircad" / "3Dircadb1.7").is_dir():
        liver = load_ircad_liver(SHARED_DATA / "ircad" / "3Dircadb1.7")
        inserted = insert_lesions(Volume(liver.ct, liver.spacing), liver.liver, 131, n_lesions=5)
        out["ircad7_liver_box_seed_131"] = measure(inserted.ct.array, liver.spacing, inserted.labels.array, session)
    sys.stdout.write(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
