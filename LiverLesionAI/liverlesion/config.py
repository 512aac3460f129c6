"""Configuration of the cascade: frozen dataclasses serialised to JSON next to every model and run.

Spacings are in mm along the ``(x, y, z)`` index axes (ITK order); windows are ``(low, high)`` in HU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class StageConfig:
    """One stage of the cascade: a 2.5D U-Net on axial slices at a fixed spacing.

    Attributes:
        name: "liver" or "lesion".
        n_classes: network output channels (liver: 2 = background/liver; lesion: 4 = none/cyst/hemangioma/metastasis).
        context_slices: number of neighbouring axial slices stacked as channels (odd; centre slice predicted).
        spacing_mm: resampling target ``(x, y, z)`` in mm.
        window_hu: intensity window ``(low, high)`` in HU mapped to [0, 1].
        base_channels: feature channels of the first encoder level (doubled per level).
        levels: encoder levels (``levels - 1`` poolings); inputs must be multiples of ``2 ** (levels - 1)``.
        liver_channel: add the stage-1 liver mask of the centre slice as an extra input channel.
    """

    name: str
    n_classes: int
    context_slices: int = 3
    spacing_mm: tuple[float, float, float] = (1.0, 1.0, 2.0)
    window_hu: tuple[float, float] = (-100.0, 250.0)
    base_channels: int = 16
    levels: int = 4
    liver_channel: bool = False

    def __post_init__(self) -> None:
        if self.context_slices < 1 or self.context_slices % 2 == 0:
            raise ValueError(f"context_slices must be odd and >= 1, got {self.context_slices}")
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {self.n_classes}")
        if self.window_hu[1] <= self.window_hu[0]:
            raise ValueError(f"window_hu must be (low, high) with low < high, got {self.window_hu}")
        if len(self.spacing_mm) != 3 or min(self.spacing_mm) <= 0:
            raise ValueError(f"spacing_mm must be 3 positive mm values (x, y, z), got {self.spacing_mm}")
        object.__setattr__(self, "spacing_mm", tuple(float(s) for s in self.spacing_mm))
        object.__setattr__(self, "window_hu", tuple(float(w) for w in self.window_hu))

    @property
    def in_channels(self) -> int:
        """Network input channels: the context slices plus the optional liver-mask channel."""
        return self.context_slices + int(self.liver_channel)

    @property
    def size_multiple(self) -> int:
        """Input height/width must be a multiple of this (``2 ** (levels - 1)``)."""
        return 2 ** (self.levels - 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        data = asdict(self)
        data["spacing_mm"] = list(self.spacing_mm)
        data["window_hu"] = list(self.window_hu)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError`` naming them."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown StageConfig keys {sorted(unknown)}; expected {sorted(known)}")
        values = dict(data)
        for key in ("spacing_mm", "window_hu"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


def default_liver_stage() -> StageConfig:
    """Stage 1: whole volume at 2×2×3 mm, abdominal window."""
    return StageConfig("liver", 2, 3, (2.0, 2.0, 3.0), (-200.0, 300.0), base_channels=12, levels=4)


def default_lesion_stage() -> StageConfig:
    """Stage 2: liver box at 1×1×2 mm, liver window, plus the stage-1 liver mask channel."""
    return StageConfig(
        "lesion", 4, 3, (1.0, 1.0, 2.0), (-100.0, 250.0), base_channels=16, levels=4, liver_channel=True
    )


@dataclass(frozen=True)
class CascadeConfig:
    """The two-stage cascade.

    Attributes:
        liver: stage-1 (liver) configuration.
        lesion: stage-2 (lesion) configuration.
        crop_margin_mm: margin added around the liver bounding box before stage 2, mm.
        min_lesion_ml: connected lesion components smaller than this (mL) are dropped.
        noise_target_hu: a scan whose noise estimate is above this (HU) is smoothed in-plane before segmentation
            (:mod:`liverlesion.inference.noise`); None: never (packages made before 1.5.1).
        rim_completion_mm: hypodense lesions are grown by at most this (mm) to the half-way contour between their
            core and the liver (:mod:`liverlesion.inference.rim`); None: not grown.
        smooth_scan_below_hu: a scan whose noise estimate is under this (HU; a soft kernel, thick slices) is
            reported as smoother than training (:mod:`liverlesion.inference.smooth_scan`); None: never.
        sharpen_max_amount: such a scan is also sharpened in-plane before segmentation, by an unsharp mask of at
            most this amount; 0: never (measured, not used by the bundled model).
    """

    liver: StageConfig = field(default_factory=default_liver_stage)
    lesion: StageConfig = field(default_factory=default_lesion_stage)
    crop_margin_mm: float = 10.0
    min_lesion_ml: float = 0.05
    noise_target_hu: float | None = None
    rim_completion_mm: float | None = None
    smooth_scan_below_hu: float | None = None
    sharpen_max_amount: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "liver": self.liver.to_dict(),
            "lesion": self.lesion.to_dict(),
            "crop_margin_mm": float(self.crop_margin_mm),
            "min_lesion_ml": float(self.min_lesion_ml),
        } | ({} if self.noise_target_hu is None else {"noise_target_hu": float(self.noise_target_hu)}) | (
            {} if self.rim_completion_mm is None else {"rim_completion_mm": float(self.rim_completion_mm)}) | (
            {} if self.smooth_scan_below_hu is None else {"smooth_scan_below_hu": float(self.smooth_scan_below_hu)}) | (
            {} if not self.sharpen_max_amount else {"sharpen_max_amount": float(self.sharpen_max_amount)})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CascadeConfig:
        """Inverse of :meth:`to_dict`; missing keys take the defaults."""
        known = {"liver", "lesion", "crop_margin_mm", "min_lesion_ml", "noise_target_hu", "rim_completion_mm",
                 "smooth_scan_below_hu", "sharpen_max_amount"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown CascadeConfig keys {sorted(unknown)}; expected {sorted(known)}")
        defaults = cls()
        return cls(
            liver=StageConfig.from_dict(data["liver"]) if "liver" in data else defaults.liver,
            lesion=StageConfig.from_dict(data["lesion"]) if "lesion" in data else defaults.lesion,
            crop_margin_mm=float(data.get("crop_margin_mm", defaults.crop_margin_mm)),
            min_lesion_ml=float(data.get("min_lesion_ml", defaults.min_lesion_ml)),
            noise_target_hu=None if data.get("noise_target_hu") is None else float(data["noise_target_hu"]),
            rim_completion_mm=None if data.get("rim_completion_mm") is None else float(data["rim_completion_mm"]),
            smooth_scan_below_hu=(None if data.get("smooth_scan_below_hu") is None
                                  else float(data["smooth_scan_below_hu"])),
            sharpen_max_amount=float(data.get("sharpen_max_amount", defaults.sharpen_max_amount)),
        )
