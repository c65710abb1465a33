"""Training: the Trainer, its run setup and loops, schedules, RNG state and the feature cache."""
