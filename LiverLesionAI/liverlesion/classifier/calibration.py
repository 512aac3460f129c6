"""Confidence calibration: temperature scaling of logits and the reliability table.

Temperature scaling divides a network's logits by one scalar ``T > 0`` fitted on validation (minimum negative
log-likelihood); the argmax never changes, only how sure the probabilities say the model is.
"""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``(n, k)`` logits divided by ``temperature``."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The ``T`` in [0.05, 20] minimising the mean NLL of ``softmax(logits / T)`` for int ``targets`` (0..k-1);
    a log-spaced search refined by golden section. 1.0 when there is nothing to fit."""
    logits, targets = np.asarray(logits, np.float64), np.asarray(targets, np.int64)
    if len(targets) == 0 or len(np.unique(targets)) < 2:
        return 1.0

    def nll(log_t: float) -> float:
        p = softmax(logits, np.exp(log_t))[np.arange(len(targets)), targets]
        return float(-np.mean(np.log(np.clip(p, 1e-12, 1.0))))

    grid = np.linspace(np.log(0.05), np.log(20.0), 60)
    best = int(np.argmin([nll(v) for v in grid]))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(40):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if nll(a) < nll(b):
            high = b
        else:
            low = a
    return float(np.exp(0.5 * (low + high)))


def brier_score(confidence: np.ndarray, correct: np.ndarray) -> float:
    """Mean squared difference between the stated ``confidence`` and the outcome (``correct`` as 1 / 0): a proper
    score (lower is better) that, unlike the binned ECE, also sees how far a confident mistake was from right."""
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, np.float64)
    return float(np.mean((confidence - correct) ** 2)) if len(confidence) else float("nan")


def reliability_table(confidence: np.ndarray, correct: np.ndarray, bins: int = 5) -> list[dict]:
    """Reported confidence vs observed frequency: equal-width bins over [0, 1] of ``confidence`` (the
    probability the prediction states) with the fraction of ``correct`` (bool) in each; plus the expected
    calibration error (``bin == "ECE"``: weighted mean |confidence - observed|)."""
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows, error = [], 0.0
    for number in range(bins):
        low, high = edges[number], edges[number + 1]
        inside = (confidence >= low) & ((confidence < high) if number < bins - 1 else (confidence <= high))
        n = int(inside.sum())
        if n:
            mean_conf, observed = float(confidence[inside].mean()), float(correct[inside].mean())
            error += n * abs(mean_conf - observed)
            rows.append({"bin": f"{low:.1f}-{high:.1f}", "n": n, "mean_confidence": round(mean_conf, 3),
                         "observed": round(observed, 3)})
        else:
            rows.append({"bin": f"{low:.1f}-{high:.1f}", "n": 0, "mean_confidence": None, "observed": None})
    rows.append({"bin": "ECE", "n": int(len(confidence)),
                 "value": round(error / len(confidence), 4) if len(confidence) else None})
    return rows
