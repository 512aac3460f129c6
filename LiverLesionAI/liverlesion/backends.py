"""The inference backends, named once for the CLI, the pipeline, the classifier and the Slicer panel.

Pure constants: importing this loads nothing (the Slicer module reads it at load time).
"""

#: ``"onnxruntime"`` (default; no PyTorch needed; the package's int8 networks when it has them),
#: ``"onnxruntime-fp32"`` (the same runtime on the float32 networks: the reference the int8 ones were checked
#: against) and ``"torch"`` (the float32 networks as state dicts).
BACKENDS: tuple[str, ...] = ("onnxruntime", "onnxruntime-fp32", "torch")

#: The Python package (import name) each backend runs on.
RUNTIME_OF_BACKEND: dict[str, str] = {"onnxruntime": "onnxruntime", "onnxruntime-fp32": "onnxruntime", "torch": "torch"}
