"""PyTorch networks (import torch lazily: import these modules only where torch is needed)."""
