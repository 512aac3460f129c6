"""``fp_train mine --real-shape-seeds``: IRCAD 1 with lesions of real shapes, sizes and positions (ircad-masks), only
from the patients named, so that held-out cases can use the others' shapes."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def test_real_shape_seeds_insert_lesions_shaped_like_the_named_patients_tumours(shared_data):
    from liverlesion.classifier.fp_train import _cases, parser
    from liverlesion.classifier.mining import read_ircad_case
    from liverlesion.phantom.real_shapes import load_real_shapes

    args = parser().parse_args(["mine", "--data", str(shared_data), "--out", "x.npz", "--real-seeds",
                                "--inserted-seeds", "--real-shape-seeds", "2", "--val-real-seeds",
                                "--val-inserted-seeds", "--val-real-shape-seeds", "100",
                                "--shape-patients", "3Dircadb1.2", "3Dircadb1.9"])
    cases = dict(_cases(args))
    assert list(cases) == ["train|ircad1-realshape:2", "val|ircad1-realshape:100"]
    _, published = read_ircad_case(shared_data / "ircad" / "3Dircadb1.1")
    ct, labels, _ = cases["train|ircad1-realshape:2"]()
    new = (labels != published) & (labels >= 2)
    components, count = ndimage.label(new, structure=np.ones((3, 3, 3)))
    assert count >= 1
    library_ml = sorted(s.volume_ml for s in load_real_shapes(shared_data / "ircad-masks",
                                                              patients=["3Dircadb1.2", "3Dircadb1.9"]))
    voxel_ml = float(np.prod(ct.spacing)) / 1000
    for number in range(1, count + 1):
        volume = (components == number).sum() * voxel_ml
        assert min(abs(volume - v) / v for v in library_ml) < 0.12, (volume, library_ml)


def test_every_tumour_shape_also_serves_as_a_cyst_shape(shared_data):
    from liverlesion.phantom.real_shapes import training_shape_library

    library = training_shape_library(shared_data / "ircad-masks", ["3Dircadb1.2", "3Dircadb1.9"])
    tumours = sorted(s.source for s in library if s.kind == "tumour")
    cysts = sorted(s.source for s in library if s.kind == "cyst")
    assert tumours == ["3Dircadb1.2 tumour 1", "3Dircadb1.9 tumour 1"]
    assert cysts == ["3Dircadb1.2 tumour 1", "3Dircadb1.9 cyst 1", "3Dircadb1.9 tumour 1"]
