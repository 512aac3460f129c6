"""Widening a trained 2.5D U-Net to more context slices: same logits at the start, the new slices can then learn."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from liverlesion.networks.context_transfer import load_widening_context  # noqa: E402
from liverlesion.networks.unet import UNet2D  # noqa: E402


def _trained_like(in_channels: int, seed: int) -> UNet2D:
    torch.manual_seed(seed)
    model = UNet2D(in_channels, 4, base_channels=4, levels=3)
    with torch.no_grad():  # non-trivial BatchNorm statistics, as a trained network has
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def test_a_network_widened_from_3_to_7_slices_gives_the_source_logits_whatever_the_new_outer_slices_hold():
    source = _trained_like(4, seed=1)
    target = UNet2D(8, 4, base_channels=4, levels=3).eval()
    load_widening_context(target, source, source_slices=3, target_slices=7, liver_channel=True)
    centre, liver = torch.rand(2, 3, 32, 32), (torch.rand(2, 1, 32, 32) > 0.5).float()
    outer_low, outer_high = torch.rand(2, 2, 32, 32), torch.rand(2, 2, 32, 32)
    with torch.no_grad():
        expected = source(torch.cat([centre, liver], dim=1))
        widened = target(torch.cat([outer_low, centre, outer_high, liver], dim=1))
    torch.testing.assert_close(widened, expected, rtol=0, atol=1e-5)


def test_the_new_outer_slices_get_gradient_so_fine_tuning_can_learn_to_use_them():
    source = _trained_like(4, seed=2)
    target = UNet2D(8, 4, base_channels=4, levels=3).train()
    load_widening_context(target, source, 3, 7, liver_channel=True)
    target(torch.rand(2, 8, 32, 32)).sum().backward()
    gradient = target.encoder[0].conv[0].weight.grad
    assert gradient[:, [0, 1, 5, 6]].abs().sum() > 0


@pytest.mark.parametrize(("source_slices", "target_slices"), [(3, 1), (3, 6), (4, 7)])
def test_shrinking_or_even_slice_counts_are_refused(source_slices, target_slices):
    with pytest.raises(ValueError, match="odd and may only grow"):
        load_widening_context(UNet2D(8, 4, 4, 3), UNet2D(4, 4, 4, 3), source_slices, target_slices, True)


def test_networks_whose_channels_do_not_match_the_slice_counts_are_refused():
    with pytest.raises(ValueError, match="input channels"):
        load_widening_context(UNet2D(7, 4, 4, 3), UNet2D(4, 4, 4, 3), 3, 7, liver_channel=True)
