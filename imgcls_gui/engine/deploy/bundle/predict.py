#!/usr/bin/env python3
"""Classify images with the ONNX model next to this file. Needs only onnxruntime, numpy and Pillow.

    python predict.py photo.jpg more_photos/ --out results.csv [--top-k 3] [--threshold 0.5]

The model carries its class names and preprocessing in its ONNX metadata (keys ``imgcls.*``), so
this script works with any model exported by imgcls. Results: one row per file with path, label,
score, the top-k labels with probabilities, and an error column for files that cannot be read.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
HERE = Path(__file__).resolve().parent
# Only these decoders see the files, whatever their names: Pillow's EPS decoder would start Ghostscript.
TRUSTED_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP", "PPM", "AVIF")
# A few-hundred-byte 100000x1 strip would need gigabytes once its shorter side is resized.
MAX_ASPECT_RATIO = 1000


def load_model(path):
    """An onnxruntime session and the model's metadata (classes, task, thresholds, preprocessing)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    props = session.get_modelmeta().custom_metadata_map
    if "imgcls.classes" not in props:
        sys.exit(f"{path}: no imgcls metadata in this model; export it with 'imgcls export'.")
    meta = {
        "classes": json.loads(props["imgcls.classes"]),
        "task": props["imgcls.task"],
        "thresholds": json.loads(props.get("imgcls.thresholds", "null")),
        "pre": json.loads(props["imgcls.preprocessing"]),
    }
    return session, meta


def to_rgb(image):
    """Any Pillow mode to RGB; transparency is composited on white, 16-bit data scaled to 8 bits."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I") or image.mode == "F":
        data = np.asarray(image).astype(np.float64)
        low, high = data.min(initial=0.0), data.max(initial=0.0)
        if image.mode == "F":
            in_unit_range = low >= 0.0 and high <= 1.0
            data = data * 255.0 if in_unit_range else (data - low) * (255.0 / (high - low)) if high > low else data * 0
        elif image.mode.startswith("I;16") or high > 255:
            data = np.clip(data, 0, 65535) / 257.0
        return Image.fromarray(np.clip(np.rint(data), 0, 255).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


def preprocess(path, pre):
    """The imgcls rule: shorter side to resize_size (bilinear), centre crop image_size, scale, normalise."""
    resize, crop = int(pre["resize_size"]), int(pre["image_size"])
    if not Path(path).is_file():  # a FIFO or device (is_file follows symlinks) would block or never end
        raise ValueError("not a regular file")
    Image.init()
    with Image.open(path, formats=[name for name in TRUSTED_FORMATS if name in Image.OPEN]) as image:
        if max(image.size) > MAX_ASPECT_RATIO * max(1, min(image.size)):
            raise ValueError(f"aspect ratio beyond {MAX_ASPECT_RATIO}:1; crop it first")
        if image.format == "JPEG":
            image.draft(None, (resize, resize))  # decode big JPEGs at a reduced scale, as imgcls does
        image.load()
        image = to_rgb(ImageOps.exif_transpose(image) or image)
    width, height = image.size
    if width <= height:
        size = (resize, int(resize * height / width))
    else:
        size = (int(resize * width / height), resize)
    image = image.resize(size, Image.BILINEAR)
    left, top = int(round((size[0] - crop) / 2.0)), int(round((size[1] - crop) / 2.0))
    image = image.crop((left, top, left + crop, top + crop))
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    pixels = (pixels - np.asarray(pre["mean"], dtype=np.float32)) / np.asarray(pre["std"], dtype=np.float32)
    return pixels.transpose(2, 0, 1)


def image_paths(inputs):
    """Files as given, plus image files found in folders (recursively, hidden ones skipped)."""
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and Path(name).suffix.lower() in EXTENSIONS:
                        yield Path(root, name)
        elif path.exists():
            yield path
        else:
            sys.exit(f"{path}: no such file or folder.")


def decide(probs, meta, top_k, threshold):
    """(label, score, top-k pairs) with the same rules as imgcls."""
    classes = meta["classes"]
    order = np.argsort(-probs, kind="stable")
    ranked = [(classes[i], float(probs[i])) for i in order[:top_k]]
    if meta["task"] != "multilabel":
        return classes[order[0]], float(probs[order[0]]), ranked
    limits = [threshold] * len(classes) if threshold is not None else (meta["thresholds"] or [0.5] * len(classes))
    over = [i for i in order if probs[i] >= limits[i]]
    best = over[0] if over else order[0]
    return ";".join(classes[i] for i in over), float(probs[best]), ranked


def predict(session, meta, paths, batch_size=32, top_k=3, threshold=None):
    """Yield one row (path, label, score, ranked, error) per path, in order."""
    input_name = session.get_inputs()[0].name
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        arrays, errors = {}, {}
        for i, path in enumerate(chunk):
            try:
                arrays[i] = preprocess(path, meta["pre"])
            except Exception as exc:  # an unreadable file becomes a row with its error, never a crash
                errors[i] = f"cannot be read ({type(exc).__name__}: {exc})"
        probs = session.run(None, {input_name: np.stack(list(arrays.values()))})[0] if arrays else []
        row_of = {i: n for n, i in enumerate(arrays)}
        for i, path in enumerate(chunk):
            if i in errors:
                yield str(path), "", None, [], errors[i]
            else:
                label, score, ranked = decide(probs[row_of[i]], meta, top_k, threshold)
                yield str(path), label, score, ranked, ""


def spreadsheet_safe(cell):
    """A quote in front of text a spreadsheet would run as a formula (file and class names are anyone's text)."""
    return "'" + cell if cell.startswith(("=", "+", "-", "@", "\t", "\r")) else cell


def main(argv=None):
    parser = argparse.ArgumentParser(description="Classify images with an imgcls ONNX model.")
    parser.add_argument("inputs", nargs="+", help="image files and/or folders")
    parser.add_argument("--model", default=str(HERE / "model.onnx"), help="ONNX model (default: model.onnx here)")
    parser.add_argument("--out", help="CSV file to write (default: print to the terminal)")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--threshold", type=float, help="multi-label: one threshold for every label")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    session, meta = load_model(args.model)
    top_k = max(0, min(args.top_k, len(meta["classes"])))
    paths = list(image_paths(args.inputs))
    header = ["path", "label", "score"]
    for i in range(1, top_k + 1):
        header += [f"top{i}_label", f"top{i}_prob"]
    out = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout
    try:
        writer = csv.writer(out, lineterminator="\r\n")  # cells holding a CR or LF get quoted
        writer.writerow(header + ["error"])
        for path, label, score, ranked, error in predict(session, meta, paths, args.batch_size, top_k, args.threshold):
            cells = [path, label, "" if score is None else f"{score:.6f}"]
            for i in range(top_k):
                cells += [ranked[i][0], f"{ranked[i][1]:.6f}"] if i < len(ranked) else ["", ""]
            writer.writerow([spreadsheet_safe(cell) for cell in cells + [error]])
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
