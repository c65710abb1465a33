"""The Qt-free engine: datasets, models, freezing, training, metrics, export and prediction.

Import the submodules you need; this package imports nothing heavy so the GUI starts fast.
"""
