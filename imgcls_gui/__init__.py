"""imgcls: turn a folder of photos into a working image classifier by transfer learning."""

__version__ = "0.1.0"
