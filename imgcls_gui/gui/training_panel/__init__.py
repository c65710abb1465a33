"""The Training panel: options, augmentation preview, live curves, results and the runs of the project."""
