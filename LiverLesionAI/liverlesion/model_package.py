"""Model packages: one folder holding the cascade's weights and the card that describes them.

Layout::

    model.json     name, version, classes, config (CascadeConfig.to_dict()), input spec, networks, backends,
                   sha256 of every file, training data + licences, metrics
    liver.onnx     stage-1 network, input "input" (B, C, H, W) float32 → "logits" (B, 2, H, W)
    lesion.onnx    stage-2 network, input "input" (B, C, H, W) float32 → "logits" (B, 4, H, W)
                   (+ "class_logits" (B, 3) for a Y-Net package)
    liver.int8.onnx, lesion.int8.onnx    optional int8 versions (:mod:`liverlesion.quantisation`): then backend
                   ``onnxruntime`` runs them and ``onnxruntime-fp32`` the float32 files
    liver.pt, lesion.pt    PyTorch state dicts (fine-tuning, torch backend)
    classifier.onnx, classifier.json (+ classifier.pt)    optional per-lesion crop classifier ("second opinion",
                   :mod:`liverlesion.classifier`), listed under model.json ``"classifier"``

model.json ``"class_decision"`` ("voxel" default, "classifier" or "mean") says which distribution types a lesion
(:mod:`liverlesion.class_decision`).

Loading (:func:`load_model_package`) needs neither torch nor onnxruntime; it verifies every checksum.
Saving and :func:`build_networks` / :func:`load_torch_networks` import torch lazily.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .class_decision import check_class_decision
from .config import CascadeConfig, StageConfig
from .errors import ModelError
from .labels import LABEL_NAMES, LESION_CLASSES

MODEL_JSON = "model.json"
PACKAGE_FORMAT = "liverlesion-model-package"
PACKAGE_FORMAT_VERSION = 1
ONNX_OPSET = 17
STAGES = ("liver", "lesion")
DEFAULT_MODEL_NAME = "liverlesion-cascade-v1"
#: Files of the optional crop classifier: role → file name (``onnx`` and ``json`` required, ``torch`` optional).
CLASSIFIER_FILES = {"onnx": "classifier.onnx", "json": "classifier.json", "torch": "classifier.pt"}
CLASSIFIER_REQUIRED = ("onnx", "json")


def default_model_dir() -> Path:
    """The bundled model package: ``liverlesion/models/liverlesion-cascade-v1``."""
    return Path(__file__).resolve().parent / "models" / DEFAULT_MODEL_NAME


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class ModelPackage:
    """A loaded (checksum-verified) model package.

    Attributes:
        folder: the package folder.
        config: the cascade configuration the networks were trained with.
        onnx_paths: stage name → ONNX file of backend ``onnxruntime`` (int8 when the package is quantised).
        torch_paths: stage name → state-dict file.
        networks: stage name → network spec (``in_channels``, ``n_classes``, ``base_channels``, ``levels``,
            ``with_classifier``).
        metadata: the whole model.json.
        classifier_paths: the crop classifier's files by role (``onnx``, ``json``, optional ``torch``; see
            :data:`CLASSIFIER_FILES`), checksum-verified; empty when the package has no classifier.
        onnx_fp32_paths: stage name → float32 ONNX file (backend ``onnxruntime-fp32``; the same files as
            ``onnx_paths`` when the package is not quantised).
    """

    folder: Path
    config: CascadeConfig
    onnx_paths: dict[str, Path]
    torch_paths: dict[str, Path]
    networks: dict[str, dict[str, Any]]
    metadata: dict[str, Any] = field(default_factory=dict)
    classifier_paths: dict[str, Path] = field(default_factory=dict)
    onnx_fp32_paths: dict[str, Path] = field(default_factory=dict)

    @property
    def quantised(self) -> bool:
        """True when backend ``onnxruntime`` runs int8 networks (model.json has an ``onnxruntime-fp32`` backend)."""
        return "onnxruntime-fp32" in self.metadata.get("backends", {})

    def precision(self, backend: str) -> str:
        """"int8" when ``backend`` runs this package's quantised networks on this CPU, else "float32" (recorded
        with results; see :mod:`liverlesion.int8_support`)."""
        from .int8_support import int8_runs_as_validated

        return "int8" if backend == "onnxruntime" and self.quantised and int8_runs_as_validated()[0] else "float32"

    @property
    def classifier_dir(self) -> Path | None:
        """The folder holding ``classifier.onnx`` + ``classifier.json`` (the package folder), or None."""
        return self.classifier_paths["onnx"].parent if self.classifier_paths else None

    @property
    def class_decision(self) -> str:
        """model.json ``"class_decision"``: "voxel" (default), "classifier" or "mean"."""
        return check_class_decision(self.metadata.get("class_decision"))

    @property
    def class_temperature(self) -> float:
        """model.json ``classifier.temperature``: the crop classifier's logits are divided by it before the
        softmax (1.0, the raw softmax, when absent; :mod:`liverlesion.classifier.class_temperature`)."""
        return _class_temperature(self.metadata)

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", self.folder.name))

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", ""))

    def stage(self, name: str) -> StageConfig:
        """The StageConfig of ``"liver"`` or ``"lesion"``."""
        if name not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {name!r}")
        return getattr(self.config, name)

    def output_names(self, stage: str) -> list[str]:
        """ONNX output names of a stage ("logits" first)."""
        return list(self.metadata["backends"]["onnxruntime"]["outputs"][stage])


def _network_spec(stage: StageConfig, net) -> dict[str, Any]:
    return {
        "in_channels": stage.in_channels,
        "n_classes": stage.n_classes,
        "base_channels": int(getattr(net, "base_channels", stage.base_channels)),
        "levels": int(getattr(net, "levels", stage.levels)),
        "with_classifier": bool(getattr(net, "with_classifier", False)),
    }


def build_networks(config: CascadeConfig, lesion_classifier: bool = False):
    """Fresh (untrained) ``(liver_net, lesion_net)`` :class:`UNet2D` pair for ``config`` (imports torch)."""
    from .networks.unet import UNet2D

    liver, lesion = config.liver, config.lesion
    liver_net = UNet2D(liver.in_channels, liver.n_classes, liver.base_channels, liver.levels)
    lesion_net = UNet2D(
        lesion.in_channels, lesion.n_classes, lesion.base_channels, lesion.levels, with_classifier=lesion_classifier
    )
    return liver_net, lesion_net


def export_onnx(net, path: Path, in_channels: int, size_multiple: int) -> list[str]:
    """Export ``net`` (eval mode, CPU copy) to ONNX with dynamic batch/H/W axes; returns the output names."""
    import copy
    import warnings

    import torch

    model = copy.deepcopy(net).to("cpu").eval()
    outputs = ["logits", "class_logits"] if getattr(model, "with_classifier", False) else ["logits"]
    dynamic = {"input": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch", 2: "height", 3: "width"}}
    if len(outputs) == 2:
        dynamic["class_logits"] = {0: "batch"}
    example = torch.zeros(1, in_channels, 4 * size_multiple, 4 * size_multiple)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=["input"],
            output_names=outputs,
            dynamic_axes=dynamic,
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    return outputs


def save_model_package(
    folder: str | Path,
    config: CascadeConfig,
    liver_net,
    lesion_net,
    *,
    metadata: dict[str, Any] | None = None,
    classifier_dir: str | Path | None = None,
    class_decision: str | None = None,
) -> Path:
    """Write a complete model package to ``folder`` (created; existing package files overwritten).

    ``metadata`` may hold ``name``, ``version``, ``description``, ``training`` (dict: data, method, command …),
    ``licenses`` (list), ``metrics`` (dict) and any other JSON-ready keys; they go into model.json.
    ``classifier_dir``: a folder with ``classifier.onnx`` + ``classifier.json`` (+ ``classifier.pt``), as written
    by ``python -m liverlesion.classifier.train fit``; the files are copied in and listed with their sha256.
    ``class_decision``: "voxel" (default), "classifier" or "mean" (:mod:`liverlesion.class_decision`).

    Raises:
        ModelError: ``classifier_dir`` lacks classifier.onnx or classifier.json. ValueError: unknown
            ``class_decision``.
    """
    import torch

    folder = Path(folder)
    metadata = dict(metadata or {})
    class_decision = check_class_decision(class_decision or metadata.pop("class_decision", None))
    folder.mkdir(parents=True, exist_ok=True)
    classifier = copy_classifier(classifier_dir, folder) if classifier_dir is not None else None
    outputs, networks = {}, {}
    for name, net in (("liver", liver_net), ("lesion", lesion_net)):
        stage: StageConfig = getattr(config, name)
        state = {key: value.detach().cpu() for key, value in net.state_dict().items()}
        torch.save(state, folder / f"{name}.pt")
        outputs[name] = export_onnx(net, folder / f"{name}.onnx", stage.in_channels, stage.size_multiple)
        networks[name] = _network_spec(stage, net)
    files = sorted(f"{name}.{ext}" for name in STAGES for ext in ("onnx", "pt"))
    files += [str(extra) for extra in metadata.pop("extra_files", [])]
    if classifier is not None:
        files += list(classifier["files"].values())
    metadata.pop("classifier", None)  # only what was copied in is listed
    card = {
        "format": PACKAGE_FORMAT,
        "format_version": PACKAGE_FORMAT_VERSION,
        "name": metadata.pop("name", folder.name),
        "version": metadata.pop("version", "0.0.0"),
        "description": metadata.pop("description", "Cascaded 2.5D U-Net: liver, then lesions (typed)."),
        "classes": {
            "labels": {str(k): v for k, v in LABEL_NAMES.items()},
            "lesion_network_classes": ["none", *LESION_CLASSES],
        },
        "config": config.to_dict(),
        "input": {
            name: {
                "layout": "(B, C, H, W) float32: C = context slices z-k//2 … z+k//2 of the canonical axial volume "
                "resampled to spacing_mm and windowed to [0, 1]" + (" + liver mask (0/1)" if st.liver_channel else ""),
                "spacing_mm": list(st.spacing_mm),
                "window_hu": list(st.window_hu),
                "context_slices": st.context_slices,
                "liver_channel": st.liver_channel,
                "in_channels": st.in_channels,
                "size_multiple": st.size_multiple,
            }
            for name, st in (("liver", config.liver), ("lesion", config.lesion))
        },
        "networks": networks,
        "backends": {
            "onnxruntime": {
                "files": {name: f"{name}.onnx" for name in STAGES},
                "opset": ONNX_OPSET,
                "input": "input",
                "outputs": outputs,
            },
            "torch": {"files": {name: f"{name}.pt" for name in STAGES}, "class": "liverlesion.networks.unet.UNet2D"},
        },
        "training": metadata.pop("training", {}),
        "licenses": metadata.pop("licenses", []),
        "metrics": metadata.pop("metrics", {}),
        "class_decision": class_decision,
        **({"classifier": classifier} if classifier is not None else {}),
        **metadata,
        "files": {name: sha256_of(folder / name) for name in files},
    }
    (folder / MODEL_JSON).write_text(json.dumps(card, indent=2) + "\n")
    return folder


def load_model_package(folder: str | Path | None = None) -> ModelPackage:
    """Read and verify a model package (default: :func:`default_model_dir`).

    Raises:
        ModelError: folder or model.json missing/invalid, a listed file missing, or a sha256 mismatch
            (the message names the file).
    """
    folder = Path(folder) if folder is not None else default_model_dir()
    card_path = folder / MODEL_JSON
    if not card_path.is_file():
        raise ModelError(f"{card_path}: model package has no model.json (is {folder} a liverlesion model folder?)")
    try:
        card = json.loads(card_path.read_text())
        config = CascadeConfig.from_dict(card["config"])
        files: dict[str, str] = card["files"]
        backends = card["backends"]
        networks = card["networks"]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ModelError(f"{card_path}: invalid model.json ({error})") from error
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            raise ModelError(f"{path}: file listed in model.json is missing; reinstall or re-export the model")
        actual = sha256_of(path)
        if actual != expected:
            raise ModelError(
                f"{path}: sha256 mismatch (model.json says {expected[:12]}…, file is {actual[:12]}…); "
                "the file is corrupt or was changed — reinstall or re-export the model"
            )
    onnx_paths = {stage: folder / name for stage, name in backends["onnxruntime"]["files"].items()}
    fp32_files = backends.get("onnxruntime-fp32", backends["onnxruntime"])["files"]
    onnx_fp32_paths = {stage: folder / name for stage, name in fp32_files.items()}
    torch_paths = {stage: folder / name for stage, name in backends.get("torch", {}).get("files", {}).items()}
    classifier_paths = _classifier_paths(card, folder, card_path)
    fp_entry = card.get("fp_reduction") or {}
    fp_paths = [folder / name for name in (fp_entry.get("files") or {}).values()] if isinstance(fp_entry, dict) else []
    for path in [*onnx_paths.values(), *onnx_fp32_paths.values(), *torch_paths.values(), *classifier_paths.values(),
                 *fp_paths]:
        if path.name not in files:
            raise ModelError(f"{path}: backend file has no sha256 in model.json; re-export the model")
    try:
        check_class_decision(card.get("class_decision"))
        _class_temperature(card)
    except ValueError as error:
        raise ModelError(f"{card_path}: {error}") from error
    return ModelPackage(folder, config, onnx_paths, torch_paths, networks, card, classifier_paths, onnx_fp32_paths)


def _class_temperature(card: dict[str, Any]) -> float:
    """``classifier.temperature`` of a model.json (1.0 when absent).

    Raises:
        ValueError: not a number > 0.
    """
    value = (card.get("classifier") or {}).get("temperature", 1.0)
    try:
        temperature = float(value)
    except (TypeError, ValueError):
        temperature = float("nan")
    if not temperature > 0 or not math.isfinite(temperature):
        raise ValueError(f"classifier temperature must be a number > 0, got {value!r}")
    return temperature


def _classifier_paths(card: dict[str, Any], folder: Path, card_path: Path) -> dict[str, Path]:
    """The classifier's files by role from model.json ``"classifier"`` (empty when there is none)."""
    entry = card.get("classifier")
    if entry is None:
        return {}
    try:
        paths = {role: folder / name for role, name in entry["files"].items()}
    except (KeyError, TypeError, AttributeError) as error:
        raise ModelError(f"{card_path}: invalid \"classifier\" entry ({error})") from error
    missing = [role for role in CLASSIFIER_REQUIRED if role not in paths]
    if missing:
        raise ModelError(f"{card_path}: the classifier entry lists no {', '.join(missing)} file; re-export the model")
    return paths


def copy_classifier(source: str | Path, folder: Path) -> dict[str, Any]:
    """Copy a classifier's files from ``source`` into the package ``folder``; returns model.json's
    ``"classifier"`` entry: ``{"files": {role: name}, "classes": [...], "crop": crop spec}``.

    Raises:
        ModelError: classifier.onnx or classifier.json missing, or classifier.json unreadable.
    """
    source = Path(source)
    files = {}
    for role, name in CLASSIFIER_FILES.items():
        path = source / name
        if not path.is_file():
            if role in CLASSIFIER_REQUIRED:
                raise ModelError(
                    f"{path} is missing: a classifier folder needs classifier.onnx and classifier.json "
                    "(python -m liverlesion.classifier.train fit writes both)"
                )
            continue
        if path.resolve() != (folder / name).resolve():
            shutil.copyfile(path, folder / name)
        files[role] = name
    try:
        meta = json.loads((folder / CLASSIFIER_FILES["json"]).read_text())
        return {"files": files, "classes": list(meta["classes"]), "crop": meta["crop_spec"]}
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ModelError(f"{source / CLASSIFIER_FILES['json']}: invalid classifier.json ({error})") from error


def load_torch_networks(package: ModelPackage, device: str = "cpu"):
    """``(liver_net, lesion_net)`` in eval mode with the package's state dicts loaded (imports torch)."""
    import torch

    from .networks.unet import UNet2D

    nets = []
    for stage in STAGES:
        spec = package.networks[stage]
        net = UNet2D(
            spec["in_channels"], spec["n_classes"], spec["base_channels"], spec["levels"], spec["with_classifier"]
        )
        if stage not in package.torch_paths:
            raise ModelError(f"{package.folder}: no torch weights for stage {stage!r}")
        state = torch.load(package.torch_paths[stage], map_location=device, weights_only=True)
        net.load_state_dict(state)
        nets.append(net.to(device).eval())
    return tuple(nets)


def write_untrained_package(folder: str | Path, config: CascadeConfig | None = None, seed: int = 0) -> Path:
    """A package with randomly initialised networks (for testing the inference plumbing only)."""
    import torch

    config = config or CascadeConfig()
    torch.manual_seed(seed)
    liver_net, lesion_net = build_networks(config)
    return save_model_package(
        folder,
        config,
        liver_net,
        lesion_net,
        metadata={
            "name": "liverlesion-untrained",
            "version": "0.0.0",
            "description": f"UNTRAINED random weights (seed {seed}): for testing plumbing, not for use.",
            "training": {"data": [], "method": "none"},
        },
    )


if __name__ == "__main__":  # python -m liverlesion.model_package OUT_DIR  → untrained package
    import sys

    write_untrained_package(sys.argv[1] if len(sys.argv) > 1 else "/tmp/untrained-model")


def combine_packages(
    liver_package: str | Path,
    lesion_package: str | Path,
    folder: str | Path,
    *,
    metadata: dict[str, Any] | None = None,
    classifier_dir: str | Path | None = None,
    class_decision: str | None = None,
    fp_source: str | Path | None = None,
) -> Path:
    """A new package with the liver stage of ``liver_package`` and the lesion stage of ``lesion_package``.

    Used when the two stages were trained in separate runs (each run's package carries the other stage from
    its ``--base-package``). Each stage keeps the configuration it was trained with; the cascade-level settings
    (crop margin, minimum lesion size) come from ``lesion_package``. The crop classifier comes from
    ``classifier_dir`` (a ``classifier.train fit`` output folder or a package holding one), else from
    ``lesion_package`` when it has one, with its class temperature (re-fit it for the new cascade:
    :mod:`liverlesion.classifier.class_temperature`); ``class_decision`` defaults to ``lesion_package``'s. The false-positive
    reduction stage comes from ``fp_source`` (a package, with its threshold but not its measured metrics, or an
    ``fp_train fit`` folder, with the threshold chosen on validation), else from ``lesion_package`` when it has one.
    Imports torch.
    """
    liver_source, lesion_source = load_model_package(liver_package), load_model_package(lesion_package)
    liver_net, _ = load_torch_networks(liver_source)
    _, lesion_net = load_torch_networks(lesion_source)
    config = CascadeConfig(
        liver=liver_source.config.liver,
        lesion=lesion_source.config.lesion,
        crop_margin_mm=lesion_source.config.crop_margin_mm,
        min_lesion_ml=lesion_source.config.min_lesion_ml,
    )
    merged = {
        "training": {
            "liver": liver_source.metadata.get("training"),
            "lesion": lesion_source.metadata.get("training"),
        }
    }
    merged.update(metadata or {})
    class_temperature = None
    if classifier_dir is None:
        classifier_dir = lesion_source.classifier_dir
        class_temperature = lesion_source.class_temperature if classifier_dir is not None else None
    if class_decision is None and "class_decision" not in merged:
        class_decision = lesion_source.class_decision
    fp_folder, fp_entry = lesion_source.folder, merged.pop("fp_reduction", None)
    if fp_source is not None:
        fp_folder = Path(fp_source)
        card = fp_folder / MODEL_JSON
        fp_entry = json.loads(card.read_text()).get("fp_reduction", {}) if card.is_file() else {}
        fp_entry = {"threshold": fp_entry.get("threshold")}  # its measured numbers were of another cascade
    elif not fp_entry:
        fp_entry = lesion_source.metadata.get("fp_reduction")
    out = save_model_package(
        folder, config, liver_net, lesion_net, metadata=merged, classifier_dir=classifier_dir,
        class_decision=class_decision,
    )
    if class_temperature not in (None, 1.0):  # the same classifier keeps its temperature (re-fit it for a new cascade)
        card_path = out / MODEL_JSON
        card = json.loads(card_path.read_text())
        card["classifier"]["temperature"] = class_temperature
        card_path.write_text(json.dumps(card, indent=2) + "\n")
    if fp_entry:  # the false-positive stage comes along (files re-hashed)
        from .classifier.fp_filter import add_fp_reduction

        add_fp_reduction(out, fp_folder, fp_entry.get("threshold"), fp_entry.get("metrics"))
    return out
