"""Training: the loop, crash-safe checkpoints, run directories, distributed set-up."""
