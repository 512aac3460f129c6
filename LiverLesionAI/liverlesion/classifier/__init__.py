"""Per-lesion crop classifier (a "second opinion" beside the cascade's voxel vote).

``crops`` (lesion-centred multi-window crops), ``dataset`` (phantom / inserted-lesion crop caches), ``fitting`` and
``train`` (pre-training, transfer fine-tuning, CLI ``python -m liverlesion.classifier.train``), ``export``
(ONNX / state dict) and ``predict`` (:func:`classify_lesions` with ONNX Runtime). Torch is imported lazily.
"""
