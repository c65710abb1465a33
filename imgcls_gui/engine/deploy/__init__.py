"""Deployment: export to ONNX/TorchScript, offline prediction, result tables and sorting into folders."""
