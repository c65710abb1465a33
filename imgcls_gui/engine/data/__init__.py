"""Data: importers (folders, CSV, VOC), image decoding, splits, transforms and the torch Dataset/loader."""
