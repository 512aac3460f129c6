"""Weight averaging over the last epochs (stochastic weight averaging, Izmailov et al. 2018).

With one or two real livers in training, the network's fit to an unseen patient swings from epoch to epoch
(liver Dice 0.85–0.95 on the other IRCAD patient late in training): the weights wander around a wide optimum.
The mean of the weights at the end of the last few epochs sits nearer its centre. Averaged weights do not go
with the BatchNorm statistics of any one epoch, so the statistics are re-estimated on training batches.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class WeightAverage:
    """Running mean of a model's floating-point parameters and buffers, one :meth:`add` per snapshot."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: dict[str, torch.Tensor] = {}

    def add(self, model: torch.nn.Module) -> None:
        """Fold the model's current weights into the mean."""
        self.count += 1
        for name, value in model.state_dict().items():
            if not value.is_floating_point():
                continue
            value = value.detach().to("cpu", torch.float32)
            if name not in self.mean:
                self.mean[name] = value.clone()
            else:
                self.mean[name] += (value - self.mean[name]) / self.count

    def load_into(self, model: torch.nn.Module) -> None:
        """Overwrite the model's floating-point weights with the mean (integer buffers are kept)."""
        if self.count == 0:
            raise ValueError("no weights were added to the average")
        state = model.state_dict()
        for name, value in self.mean.items():
            state[name].copy_(value.to(state[name].device, state[name].dtype))

    def state_dict(self) -> dict:
        return {"count": self.count, "mean": self.mean}

    def load_state_dict(self, state: dict) -> None:
        self.count = int(state["count"])
        self.mean = {name: value.clone() for name, value in state["mean"].items()}


@torch.no_grad()
def reestimate_batchnorm(model: torch.nn.Module, images: Iterable[torch.Tensor]) -> int:
    """Recompute the running mean/variance of every BatchNorm that trains (frozen levels keep theirs).

    Each BatchNorm's statistics become the plain average over all ``images`` batches (momentum None).
    ``images``: batches ``(N, C, H, W)`` already on the model's device. Returns the number of BatchNorm layers
    re-estimated; the model is left in eval mode.
    """
    model.train()
    layers = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.training]
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None
    for batch in images:
        model(batch)
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
    model.eval()
    return len(layers)
