"""``classifier.train cache --real-shape-seeds``: crops of lesions with real shapes (ircad-masks) inserted into
IRCAD 1, typed, added to the classifier's training crops; without the option the recipe is as before."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.classifier.crops import CropSpec
from liverlesion.classifier.dataset import CacheRecipe, build_cache


def test_the_default_recipe_has_no_real_shape_cases():
    assert CacheRecipe().train_real_shape_seeds == () and CacheRecipe().shape_patients is None


@pytest.mark.slow
def test_real_shape_seeds_add_typed_training_crops_of_the_named_patients_shapes(shared_data):
    recipe = CacheRecipe(train_phantom_seeds=(), test_phantom_seeds=(), train_ircad_seeds=(), test_ircad_seeds=(),
                         train_real_shape_seeds=(3,), shape_patients=("3Dircadb1.2", "3Dircadb1.9"), variants=1)
    train, test = build_cache(shared_data, recipe, CropSpec())
    assert len(test) == 0
    shaped = train.subset(np.char.startswith(train.group.astype(str), "ircad1-realshape:"))
    assert set(shaped.group.astype(str)) == {"ircad1-realshape:500003"}
    typed = shaped.target[shaped.target >= 0]
    assert len(typed) >= 1 and set(typed.tolist()) <= {0, 1, 2}


def test_real_shape_seeds_without_the_data_folder_are_refused_before_any_work(tmp_path):
    from liverlesion.classifier.train import main

    with pytest.raises(SystemExit, match="need --data"):
        main(["cache", "--out", str(tmp_path / "cache.npz"), "--real-shape-seeds", "1"])
    assert not (tmp_path / "cache.npz").exists()
