"""Save a trained classifier: ``classifier.pt`` (state dict + architecture + crop spec) and ``classifier.onnx``.

A seed ensemble (:class:`liverlesion.networks.mean_logits.MeanLogits` of ResNets) is saved the same way, with one
``{"state_dict", "architecture"}`` per member under ``"members"``; its ONNX file is one graph."""

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
    """``torch.save`` of ``{"state_dict", "architecture", "crop_spec", "classes"}``, or for a
    :class:`~liverlesion.networks.mean_logits.MeanLogits` ensemble ``{"members": [{"state_dict", "architecture"},
    ...], "crop_spec", "classes"}`` (reload either: :func:`load_torch`)."""
    import torch

    from ..networks.mean_logits import MeanLogits

    path = Path(path)
    if isinstance(model, MeanLogits):
        weights = {"members": [{"state_dict": m.state_dict(), "architecture": m.architecture()} for m in model.members]}
    else:
        weights = {"state_dict": model.state_dict(), "architecture": model.architecture()}
    torch.save({**weights, "crop_spec": spec.to_json(), "classes": list(class_names)}, path)
    return path


def load_torch(path: str | Path):
    """``(model in eval mode, CropSpec, classes)`` from a file written by :func:`save_torch`: a ResNetClassifier,
    or a MeanLogits of them when the file holds ``"members"``."""
    import torch

    from ..networks.mean_logits import MeanLogits
    from ..networks.resnet_classifier import ResNetClassifier

    data = torch.load(str(path), map_location="cpu", weights_only=True)

    def network(entry: dict):
        model = ResNetClassifier(**entry["architecture"])
        model.load_state_dict(entry["state_dict"])
        return model

    model = MeanLogits([network(m) for m in data["members"]]) if "members" in data else network(data)
    return model.eval(), CropSpec.from_json(data["crop_spec"]), tuple(data["classes"])
