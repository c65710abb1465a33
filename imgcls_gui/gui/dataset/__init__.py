"""The Dataset & labeling panel and its parts (model, thumbnails, grid, class list, health, split, chart)."""
