"""Save a trained classifier: ``classifier.pt`` (state dict + architecture + crop spec) and ``classifier.onnx``."""

from __future__ import annotations

from pathlib import Path

from .crops import CropSpec

#: Names of the ONNX graph's input and output.
INPUT_NAME, OUTPUT_NAME = "input", "logits"


def export_onnx(model, path: str | Path, spec: CropSpec, opset: int = 17) -> Path:
    """Write ``model`` (eval mode) as ONNX: input ``"input"`` float32 ``(B, C, S, S)`` (dynamic B), output
    ``"logits"`` ``(B, n_classes)``."""
    import copy
    import warnings

    import torch

    model = copy.deepcopy(model).to("cpu").eval()
    dummy = torch.zeros(1, spec.n_channels, spec.size, spec.size)
    path = Path(path)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            model, (dummy,), str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}, opset_version=opset, dynamo=False,
        )
    return path


def save_torch(model, path: str | Path, spec: CropSpec, class_names: tuple[str, ...]) -> Path:
    """``torch.save`` of ``{"state_dict", "architecture", "crop_spec", "classes"}`` (reload: :func:`load_torch`)."""
    import torch

    path = Path(path)
    torch.save({"state_dict": model.state_dict(), "architecture": model.architecture(),
                "crop_spec": spec.to_json(), "classes": list(class_names)}, path)
    return path


def load_torch(path: str | Path):
    """``(model in eval mode, CropSpec, classes)`` from a file written by :func:`save_torch`."""
    import torch

    from ..networks.resnet_classifier import ResNetClassifier

    data = torch.load(str(path), map_location="cpu", weights_only=True)
    model = ResNetClassifier(**data["architecture"])
    model.load_state_dict(data["state_dict"])
    return model.eval(), CropSpec.from_json(data["crop_spec"]), tuple(data["classes"])
