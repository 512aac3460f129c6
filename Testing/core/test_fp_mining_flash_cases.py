"""``fp_train mine --flash-seeds``: IRCAD 1 with small flash-filling hemangiomas inserted, so that a cascade which
proposes them hands the false-positive stage real positives of that kind (issue 11: the stage had never seen one)."""

from __future__ import annotations

import numpy as np
from liverlesion.labels import class_to_label


def test_flash_seeds_add_training_and_validation_cases_of_small_flash_hemangiomas(shared_data):
    from liverlesion.classifier.fp_train import _cases, parser
    from liverlesion.phantom.insertion import estimate_liver_contrast

    args = parser().parse_args(["mine", "--data", str(shared_data), "--out", "x.npz", "--real-seeds",
                                "--inserted-seeds", "--flash-seeds", "3", "--val-real-seeds", "--val-inserted-seeds",
                                "--val-flash-seeds", "100"])
    cases = dict(_cases(args))
    assert list(cases) == ["train|ircad1-flash:3", "val|ircad1-flash:100"]
    from liverlesion.classifier.mining import read_ircad_case

    _, published = read_ircad_case(shared_data / "ircad" / "3Dircadb1.1")
    ct, labels, _ = cases["train|ircad1-flash:3"]()
    new = (labels != published) & (labels >= 2)
    assert set(np.unique(labels[new]).tolist()) == {class_to_label("hemangioma")}  # only hemangiomas were added
    liver_hu, _, _ = estimate_liver_contrast(ct.array, labels >= 1)
    hemangioma = new & (labels == class_to_label("hemangioma"))
    assert float(np.median(ct.array[hemangioma])) > liver_hu + 20  # flash-filling: bright like the blood pool
    voxel_ml = float(np.prod(ct.spacing)) / 1000
    assert hemangioma.sum() * voxel_ml < 4 * (4 / 3) * np.pi * 1.25**3  # a few lesions of at most 25 mm


def test_without_flash_seeds_the_mining_cases_are_as_before(shared_data):
    from liverlesion.classifier.fp_train import _cases, parser

    args = parser().parse_args(["mine", "--data", str(shared_data), "--out", "x.npz", "--real-seeds", "0",
                                "--inserted-seeds", "1", "--val-real-seeds", "--val-inserted-seeds", "100"])
    assert [group for group, _ in _cases(args)] == ["train|ircad1-real:0", "train|ircad1-inserted:1",
                                                    "val|ircad1-inserted:100"]
