"""Training of the cascade's two stages (PyTorch; import only where torch is installed).

``python -m liverlesion.training --help`` / ``liverlesion train --help`` / ``torchrun --nproc_per_node=N -m
liverlesion.training ...``. Modules: options (run options), sources (reading KIND:PATH data), datasets (stage
samples), sampling, augment, losses, methods (schedules), ddp, loop (the training loop).
"""
