"""The Model & Freezing panel: backbone, weights, head and which layer groups train."""
