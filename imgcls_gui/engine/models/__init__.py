"""Models: the backbone registry, building a model with its weights and head, freezing by layer groups."""
