"""The inference backends, named once for the CLI, the pipeline, the classifier and the Slicer panel.

Pure constants: importing this loads nothing (the Slicer module reads it at load time).
"""

#: ``"onnxruntime"`` (default; no PyTorch needed) and ``"torch"`` (same networks as state dicts).
BACKENDS: tuple[str, ...] = ("onnxruntime", "torch")
