"""The training loop of one stage: data → phases → checkpoints/metrics each epoch → model package at the end.

Run folder (``options.out``): ``options.json`` (every option, seed included), ``config.json`` (the cascade
config), ``checkpoint.pt`` (model, optimizer, scheduler, epoch, RNG states; rewritten each epoch),
``metrics.jsonl`` (one JSON object per epoch), ``rank<R>.checksum.json`` (final parameter checksum of each
rank), ``model/`` (the exported model package; with ``average_epochs`` the averaged weights, and
``model-last-epoch/`` the last epoch's).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..config import CascadeConfig
from ..model_package import default_model_dir, load_model_package, load_torch_networks, save_model_package
from ..networks.context_transfer import load_widening_context
from ..networks.unet import UNet2D, freeze_encoder_levels
from .augment import AugmentOptions
from .averaging import WeightAverage, reestimate_batchnorm
from .datasets import CaseStore, draw_sample
from .ddp import DistContext, all_reduce_sum, barrier, broadcast_buffers, init_distributed, shutdown, wrap
from .losses import binary_logits, classification_loss, dice_per_class, segmentation_loss
from .methods import check_method, phase_for_epoch
from .options import TrainOptions
from .sampling import SamplingOptions, collate
from .sources import DataSpec
from .workers import ForkedMap

Log = Callable[[str], None]
VALIDATION_EPOCH = 1_000_000  # "epoch" seed component of the fixed validation samples
#: Training batches (per rank) over which BatchNorm statistics are re-estimated for averaged weights.
BATCHNORM_BATCHES = 24

LICENSES = {
    "phantom": "LiverLesionAI synthetic phantoms (generated; Apache-2.0)",
    "ircad": "3D-IRCADb-01 (IRCAD France): CC BY-NC-ND 4.0 — weights for non-commercial research use only",
    "inserted": "3D-IRCADb-01 livers with synthetic lesions: CC BY-NC-ND 4.0 — non-commercial research use only",
    "flash": "3D-IRCADb-01 livers with synthetic flash-filling hemangiomas: CC BY-NC-ND 4.0 — non-commercial research use only",
    "reshaped": "3D-IRCADb-01 CTs deformed to 3D-IRCADb-01 liver masks: CC BY-NC-ND 4.0 — non-commercial research use only",
    "lits": "LiTS (Bilic et al.): CC BY-NC-SA 4.0 — non-commercial use",
    "typed": "user-supplied typed-lesion data: check its licence",
}


def train(options: TrainOptions, log: Log | None = None) -> Path:
    """Train one stage as ``options`` say; returns the exported model package folder (on every rank)."""
    context = init_distributed(options.device)
    try:
        return _train(options, context, log if context.is_main else None)
    finally:
        shutdown(context)


def _configure_threads(context: DistContext) -> None:
    """CPU threads per rank: ``OMP_NUM_THREADS`` when set (several runs sharing a machine), else the cores
    divided among the local ranks. Oversubscribing cores makes OpenMP threads spin and slows every run."""
    if context.device == "cpu":
        requested = os.environ.get("OMP_NUM_THREADS", "")
        if requested.isdigit() and int(requested) > 0:
            torch.set_num_threads(int(requested))
            return
        local = int(os.environ.get("LOCAL_WORLD_SIZE", context.world_size))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(local, 1)))


def _base_package(options: TrainOptions):
    folder = Path(options.base_package) if options.base_package else default_model_dir()
    if options.base_package or (folder / "model.json").is_file():
        return load_model_package(folder)
    return None


def _cascade_config(options: TrainOptions, base) -> CascadeConfig:
    config = base.config if base is not None else CascadeConfig()
    if not options.cascade:
        return config
    merged = config.to_dict()
    for key, value in options.cascade.items():
        merged[key] = {**merged[key], **value} if isinstance(value, dict) else value
    return CascadeConfig.from_dict(merged)


def _build_model(options: TrainOptions, config: CascadeConfig, base) -> UNet2D:
    stage = getattr(config, options.stage)
    torch.manual_seed(options.seed)
    model = UNet2D(
        stage.in_channels, stage.n_classes, stage.base_channels, stage.levels, with_classifier=options.method == "ynet"
    )
    if options.init_weights:
        if base is None:
            raise ValueError("--init-weights needs a base package (--base-package or the bundled model)")
        liver_net, lesion_net = load_torch_networks(base)
        source = liver_net if options.stage == "liver" else lesion_net
        source_stage = getattr(base.config, options.stage)
        if source_stage.context_slices != stage.context_slices:
            load_widening_context(
                model, source, source_stage.context_slices, stage.context_slices, stage.liver_channel
            )
        else:
            model.load_state_dict(source.state_dict(), strict=False)
    return model


def _lr_lambda(total_steps: int, warmup: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(total_steps - warmup, 1)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def _batch_drawer(cases, stage, options, context, epoch, sampling, augment, binary):
    """The job that makes step ``step``'s batch of this rank: ``(images, targets, lesion types)`` arrays
    (numpy, so that a worker process hands them back through a pipe, not through shared-memory tensors)."""

    def draw(step: int):
        first = ((step * context.world_size) + context.rank) * options.batch_size
        samples = [
            draw_sample(cases, stage, options.seed, epoch, first + j, sampling, augment, binary)
            for j in range(options.batch_size)
        ]
        return tuple(t.numpy() for t in collate(samples, stage.size_multiple))

    return draw


def _forward(model, images, targets, types, phase, options):
    output = model(images)
    logits, class_logits = output if isinstance(output, tuple) else (output, None)
    if phase.binary:
        logits = binary_logits(logits)
    loss = segmentation_loss(logits, targets, options.dice_weight)
    cls = classification_loss(class_logits, types) if class_logits is not None and phase.classifier else None
    if cls is not None:
        loss = loss + options.class_weight * cls
    return loss, logits, cls


def _validation_batches(cases, stage, options, binary):
    sampling = SamplingOptions("whole", options.effective_patch_size, options.lesion_fraction)
    samples = [
        draw_sample(cases, stage, options.seed + 1, VALIDATION_EPOCH, i, sampling, AugmentOptions.none(), binary)
        for i in range(options.val_samples)
    ]
    return [collate(samples[i : i + options.batch_size], stage.size_multiple) for i in range(0, len(samples), options.batch_size)]


@torch.no_grad()
def _validate(model, batches, phase, options, device) -> dict:
    model.eval()
    numerator = denominator = None
    for images, targets, types in batches:
        _, logits, _ = _forward(model, images.to(device), targets.to(device), types.to(device), phase, options)
        n, d = dice_per_class(logits, targets.to(device))
        numerator = n if numerator is None else numerator + n
        denominator = d if denominator is None else denominator + d
    dice = [float(a / b) if b > 0 else float("nan") for a, b in zip(numerator.tolist(), denominator.tolist(), strict=True)]
    present = [d for d in dice if not math.isnan(d)]
    return {"val_dice": dice, "val_mean_dice": float(np.mean(present)) if present else float("nan")}


def _save_checkpoint(path: Path, model, optimizer, scheduler, epoch: int, options: TrainOptions, average) -> None:
    state = {
        "average": average.state_dict() if average is not None else None,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "epoch": epoch,
        "options": options.to_dict(),
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": np.random.get_state(),
    }
    temporary = path.with_suffix(".tmp")
    torch.save(state, temporary)
    temporary.replace(path)


def _parameter_checksum(model) -> dict:
    """sha256 of the trainable parameters, of the whole state (with buffers), and the parameters' sum."""
    parameters, state = hashlib.sha256(), hashlib.sha256()
    names = {name for name, _ in model.named_parameters()}
    total = 0.0
    for name, tensor in sorted(model.state_dict().items()):
        data = tensor.detach().cpu().contiguous().numpy()
        for digest in (state, parameters) if name in names else (state,):
            digest.update(name.encode())
            digest.update(data.tobytes())
        if name in names:
            total += float(data.astype(np.float64).sum())
    return {"parameters_sha256": parameters.hexdigest(), "state_sha256": state.hexdigest(), "parameter_sum": total}


def _train(options: TrainOptions, context: DistContext, log: Log | None) -> Path:
    say = log or (lambda message: None)
    check_method(options.method, options.stage)
    _configure_threads(context)
    run_dir = Path(options.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    np.random.seed(options.seed + context.rank)
    base = _base_package(options)
    config = _cascade_config(options, base)
    stage = getattr(config, options.stage)
    if context.is_main:
        (run_dir / "options.json").write_text(json.dumps(options.to_dict(), indent=2) + "\n")
        (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    specs = [DataSpec.parse(text) for text in options.data]
    cache = options.cache_dir
    store = CaseStore(specs, stage, config, options.seed, cache, say, insertion=options.insertion,
                      workers=options.data_workers)
    val_store = (
        CaseStore([DataSpec.parse(t) for t in options.val_data], stage, config, options.seed + 7, cache, say)
        if options.val_data
        else store
    )
    pretrain_store = (
        CaseStore([DataSpec.parse(t) for t in options.pretrain_data], stage, config, options.seed + 13, cache, say)
        if options.pretrain_data and options.method.startswith("pretrain")
        else store
    )
    model = _build_model(options, config, base).to(context.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    total_steps = options.epochs * options.steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(total_steps, min(100, total_steps // 10 + 1)))
    checkpoint_path, metrics_path = run_dir / "checkpoint.pt", run_dir / "metrics.jsonl"
    start_epoch = 0
    average = WeightAverage() if options.average_epochs else None
    if options.resume and checkpoint_path.is_file():
        state = torch.load(checkpoint_path, map_location=context.device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        np.random.set_state(state["numpy_rng"])
        start_epoch = state["epoch"] + 1
        if average is not None and state.get("average"):
            average.load_state_dict(state["average"])
        say(f"resumed from {checkpoint_path} after epoch {start_epoch}")
    elif context.is_main and metrics_path.exists():
        metrics_path.unlink()
    augment = AugmentOptions(**options.augmentation) if options.augment else AugmentOptions.none()
    use_amp = options.amp and context.device.startswith("cuda")
    validation = {}
    for epoch in range(start_epoch, options.epochs):
        phase = phase_for_epoch(
            options.method, epoch, options.epochs, stage.levels, options.pretrain_fraction, options.freeze_levels
        )
        source = pretrain_store if phase.binary else store
        source.refresh(epoch, options.data_workers)
        freeze_encoder_levels(model, phase.frozen_levels)
        trained = wrap(model, context)
        trained.train()
        sampling = SamplingOptions(phase.sampling_mode, options.effective_patch_size, options.lesion_fraction,
                                   options.hard_negative_fraction, options.untyped_as_lesion,
                                   options.balance_lesions, options.small_lesion_fraction)
        losses, class_losses, started = [], [], time.perf_counter()
        bar = _progress_bar(options.steps_per_epoch, f"{options.stage} epoch {epoch + 1}/{options.epochs} [{phase.name}]", context)
        drawer = _batch_drawer(source.cases, stage, options, context, epoch, sampling, augment, phase.binary)
        with ForkedMap(drawer, options.data_workers) as batches:
            for batch in batches.map(range(options.steps_per_epoch)):
                images, targets, types = (torch.from_numpy(a).to(context.device) for a in batch)
                with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=use_amp):
                    loss, _, cls = _forward(trained, images, targets, types, phase, options)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                losses.append(float(loss.detach()))
                if cls is not None:
                    class_losses.append(float(cls.detach()))
                if bar is not None:
                    bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
                    bar.update(1)
        if bar is not None:
            bar.close()
        elapsed = time.perf_counter() - started
        summed = all_reduce_sum(torch.tensor([sum(losses), len(losses)], dtype=torch.float64), context)
        record = {
            "epoch": epoch,
            "phase": phase.name,
            "loss": float(summed[0] / summed[1]),
            "lr": float(scheduler.get_last_lr()[0]),
            "samples_per_s": options.steps_per_epoch * options.batch_size * context.world_size / elapsed,
            "seconds": elapsed,
            "world_size": context.world_size,
        }
        if class_losses:
            record["class_loss"] = float(np.mean(class_losses))
        if average is not None and epoch >= options.epochs - options.average_epochs:
            average.add(model)
            record["averaged_epochs"] = average.count
        if context.is_main:
            if options.val_samples > 0:
                batches = _validation_batches(val_store.cases, stage, options, phase.binary)
                validation = _validate(model, batches, phase, options, context.device)
                record.update(validation)
            _save_checkpoint(checkpoint_path, model, optimizer, scheduler, epoch, options, average)
            with open(metrics_path, "a") as stream:
                stream.write(json.dumps(record) + "\n")
            say(json.dumps(record))
        barrier(context)
    broadcast_buffers(model, context)
    if average is not None:
        if context.is_main:
            _export(run_dir / "model-last-epoch", options, config, model, base, validation, specs)
            model.to(context.device)
        validation = _use_average(model, average, (store, val_store), stage, options, augment, context)
        if context.is_main:
            record = {"epoch": "average", "averaged_epochs": average.count, **validation}
            with open(metrics_path, "a") as stream:
                stream.write(json.dumps(record) + "\n")
            say(json.dumps(record))
    (run_dir / f"rank{context.rank}.checksum.json").write_text(json.dumps(_parameter_checksum(model)) + "\n")
    package_dir = run_dir / "model"
    if context.is_main:
        _export(package_dir, options, config, model, base, validation, specs)
        say(f"model package written to {package_dir}")
    barrier(context)
    return package_dir


def _use_average(model, average: WeightAverage, stores, stage, options, augment, context) -> dict:
    """Load the averaged weights into ``model``, re-estimate its BatchNorm statistics on fresh training batches
    (``stores``: training and validation :class:`CaseStore`) and return its validation (empty off rank 0)."""
    store, val_store = stores
    last = phase_for_epoch(
        options.method, options.epochs - 1, options.epochs, stage.levels, options.pretrain_fraction, options.freeze_levels
    )
    average.load_into(model)
    sampling = SamplingOptions(last.sampling_mode, options.effective_patch_size, options.lesion_fraction)
    batches = []
    for step in range(BATCHNORM_BATCHES):
        first = ((step * context.world_size) + context.rank) * options.batch_size
        samples = [
            draw_sample(store.cases, stage, options.seed, options.epochs, first + j, sampling, augment, last.binary)
            for j in range(options.batch_size)
        ]
        batches.append(collate(samples, stage.size_multiple)[0].to(context.device))
    reestimate_batchnorm(model, batches)
    broadcast_buffers(model, context)
    if not (context.is_main and options.val_samples > 0):
        return {}
    return _validate(model, _validation_batches(val_store.cases, stage, options, last.binary), last, options, context.device)


def _command_line() -> str:
    arguments = sys.argv[1:]
    if arguments and arguments[0] == "train":
        arguments = arguments[1:]
    return " ".join(["liverlesion train", *arguments])


def _progress_bar(total: int, description: str, context: DistContext):
    if not context.is_main:
        return None
    try:
        from tqdm import tqdm
    except ModuleNotFoundError:
        return None
    return tqdm(total=total, desc=description, file=sys.stderr, disable=None, dynamic_ncols=True, leave=False)


def _export(folder: Path, options, config, model, base, validation, specs) -> None:
    from ..model_package import build_networks

    model = model.to("cpu").eval()
    if base is not None:
        liver_net, lesion_net = load_torch_networks(base)
        other_from = str(base.folder)
        training = dict(base.metadata.get("training", {}))
        metrics = dict(base.metadata.get("metrics", {}))
        licenses = list(base.metadata.get("licenses", []))
    else:
        torch.manual_seed(options.seed)
        liver_net, lesion_net = build_networks(config)
        other_from = "untrained (no base package)"
        training, metrics, licenses = {}, {}, []
    if options.stage == "liver":
        liver_net = model
    else:
        lesion_net = model
    training[options.stage] = {
        "method": options.method,
        "data": [str(s) for s in specs],
        "pretrain_data": list(options.pretrain_data),
        "epochs": options.epochs,
        "steps_per_epoch": options.steps_per_epoch,
        "batch_size": options.batch_size,
        "seed": options.seed,
        "command": _command_line(),
        "other_stage_from": other_from,
    }
    weights = "last epoch" if folder.name == "model-last-epoch" or not options.average_epochs else (
        f"mean of the last {options.average_epochs} epochs"
    )
    metrics[options.stage] = {**validation, "measured_by": f"liverlesion train (validation slices, {weights})"}
    for spec in [*specs, *(DataSpec.parse(t) for t in options.pretrain_data)]:
        licence = LICENSES[spec.kind]
        if licence not in licenses:
            licenses.append(licence)
    save_model_package(
        folder,
        config,
        liver_net,
        lesion_net,
        metadata={
            "name": options.name,
            "version": options.version,
            "training": training,
            "metrics": metrics,
            "licenses": licenses,
        },
    )
