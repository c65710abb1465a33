"""Evaluation: running a model over a split, the metric report and per-image results of a run."""
