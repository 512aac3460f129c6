"""The fast lesion-argmax test of the pipeline gives the same voxels as ``argmax(axis=0) != 0``."""

import numpy as np
from liverlesion.inference.pipeline import _lesion_class_wins


def test_lesion_class_wins_matches_argmax_on_random_probabilities():
    probabilities = np.random.default_rng(0).random((4, 6, 7, 8), dtype=np.float32)
    assert np.array_equal(_lesion_class_wins(probabilities), np.argmax(probabilities, axis=0) != 0)


def test_a_tie_with_the_background_goes_to_the_background_as_argmax_does():
    probabilities = np.zeros((4, 1, 1, 3), dtype=np.float32)
    probabilities[:, 0, 0, 0] = [0.4, 0.4, 0.1, 0.1]  # tie background / cyst → background
    probabilities[:, 0, 0, 1] = [0.3, 0.3, 0.4, 0.0]  # hemangioma wins
    probabilities[:, 0, 0, 2] = [0.5, 0.2, 0.2, 0.1]  # background wins
    assert _lesion_class_wins(probabilities)[0, 0].tolist() == [False, True, False]
    assert np.array_equal(_lesion_class_wins(probabilities), np.argmax(probabilities, axis=0) != 0)
