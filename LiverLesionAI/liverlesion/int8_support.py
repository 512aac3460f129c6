"""Whether this CPU runs a quantised package's int8 networks as they were validated.

ONNX Runtime multiplies uint8 activations by int8 weights. With VNNI (x86 AVX512-VNNI / AVX-VNNI) or on 64-bit ARM
the products are summed in 32 bits. On x86 CPUs without VNNI they are summed in pairs in 16 bits, which can saturate
(ONNX Runtime's quantisation notes), so there the int8 result may differ from the one measured here. On such a CPU
backend ``onnxruntime`` runs the package's float32 networks instead (slower, never different).

``LIVERLESION_INT8=0`` always runs float32; ``LIVERLESION_INT8=1`` runs int8 whatever the CPU.
Importing this loads nothing heavy (numpy only).
"""

from __future__ import annotations

import functools
import os
import platform

#: Environment variable that overrides the CPU check ("0": float32, "1": int8).
INT8_ENV = "LIVERLESION_INT8"
#: numpy's names of the CPU features under which ONNX Runtime's u8 × s8 products do not saturate.
_VNNI_FEATURES = ("AVX512VNNI", "AVX_VNNI", "AVXVNNI")


def int8_runs_as_validated() -> tuple[bool, str]:
    """``(True, why)`` when the int8 networks may run here, else ``(False, why)``; ``why`` is one sentence."""
    forced = os.environ.get(INT8_ENV)
    if forced in {"0", "1"}:
        return forced == "1", f"{INT8_ENV}={forced}"
    return _cpu_check()


@functools.lru_cache(maxsize=1)
def _cpu_check() -> tuple[bool, str]:
    machine = platform.machine().lower()
    if machine in {"arm64", "aarch64"}:
        return True, f"64-bit ARM CPU ({machine})"
    features = _numpy_cpu_features()
    found = [name for name in _VNNI_FEATURES if features.get(name)]
    if found:
        return True, f"x86 CPU with {found[0]}"
    return False, (f"{machine or 'this'} CPU without VNNI: int8 products could saturate, so the float32 networks run "
                   f"(set {INT8_ENV}=1 to run int8 anyway)")


def _numpy_cpu_features() -> dict[str, bool]:
    """numpy's runtime CPU-feature table (its location moved in numpy 2; empty if neither is there)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:
        try:
            from numpy.core._multiarray_umath import __cpu_features__
        except ImportError:
            return {}
    return dict(__cpu_features__)
