"""The project store: a folder holding project.sqlite (images, classes, labels, split) and its runs."""
