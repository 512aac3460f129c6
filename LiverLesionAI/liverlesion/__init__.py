"""LiverLesionAI core: liver and liver-lesion segmentation with lesion typing.

Importing this package is cheap: it loads numpy only. PyTorch, ONNX Runtime, VTK, Qt and
Slicer load lazily inside the functions that need them.
"""

__version__ = "0.1.0"
