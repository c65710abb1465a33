"""Grad-CAM in the Results view and the Embedding map tab, in the real app on flowers17 photos.

A project of four flowers17 classes (15 photos each). ImageNet weights cannot be downloaded where
these pictures are made, so the model is mobilenet_v3_small with random weights whose BatchNorm
statistics were measured on flowers17 (``benchmarks/common.py``) and a linear head fitted here on
its features: a weak but real classifier, saved as a run of the project. The Results view shows its
confusion matrix with one cell's first image explained; the map places the same features with UMAP.

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python docs/screenshots/explain.py

Writes gradcam-results.png and embedding-map.png beside this file. Needs ../shared/datasets/flowers17.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from workflow import WINDOW_SIZE, copy_photos, fresh_app, waiter  # noqa: E402  (puts the repository on the path)

BACKBONE = "mobilenet_v3_small"


def fitted_run(project, records, init: Path):
    """A run folder with best.pt: the calibrated backbone and a logistic-regression head; and the features."""
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression

    from imgcls_gui.engine.checkpoint import save_checkpoint
    from imgcls_gui.engine.config import DataConfig, ModelConfig, RunConfig
    from imgcls_gui.engine.data.images import load_image
    from imgcls_gui.engine.data.preprocess import preprocess_image
    from imgcls_gui.engine.models.build import build_model, head_module, preprocessing_for
    from imgcls_gui.engine.training.feature_cache import HeadInput

    classes = tuple(project.class_names())
    model_cfg = ModelConfig(name=BACKBONE, weights="none")
    model = build_model(ModelConfig(name=BACKBONE, weights=str(init)), len(classes)).eval()
    pre = preprocessing_for(model_cfg)
    rows = []
    with torch.no_grad(), HeadInput(head_module(model)) as captured:
        for record in records:
            model(preprocess_image(load_image(record.file), pre)[None])
            rows.append(captured.value.flatten(1)[0].numpy())
    features = np.stack(rows)
    targets = np.array([classes.index(r.labels[0]) for r in records])
    fit = LogisticRegression(max_iter=300, C=0.05).fit(features, targets)
    head = head_module(model)
    head.weight.data = torch.tensor(fit.coef_, dtype=torch.float32)
    head.bias.data = torch.tensor(fit.intercept_, dtype=torch.float32)
    run = project.runs_dir / "2026-12-01_mobilenet-probe"
    run.mkdir(parents=True, exist_ok=True)
    config = RunConfig(data=DataConfig(path=str(project.folder)), model=model_cfg)
    save_checkpoint({
        "imgcls_version": "0.1.0", "created": "2026-12-01T04:00:00+00:00", "model": model.state_dict(),
        "optimizer": None, "scheduler": None, "scaler": None, "epoch": 1, "step": 1, "phase": "train",
        "best_metric": 0.0, "best_epoch": 0, "history": [], "metrics": {}, "rng": None, "classes": list(classes),
        "task": "multiclass", "thresholds": None, "preprocessing": pre.to_dict(), "config": config.to_dict(),
    }, run / "best.pt")
    return run, classes, features, fit.predict_proba(features)


def main() -> None:
    work, app = fresh_app("imgcls-explain-shot-")
    wait = waiter(app)
    import numpy as np
    from common import calibrated_init

    from imgcls_gui.engine import embedding_map
    from imgcls_gui.engine.evaluation.results import RunResults, SampleResult, roc_pr_curves
    from imgcls_gui.gui.dataset.embedding_view import MapData
    from imgcls_gui.gui.main_window import MainWindow
    from imgcls_gui.gui.state import ImportRequest
    from imgcls_gui.gui.worker import running_workers

    photos = copy_photos(work / "photos", 0, 15)
    window = MainWindow()
    window.resize(*WINDOW_SIZE)
    window.show()
    assert window.projects.create_project(work / "flowers", "flowers")
    window.state.request_import(ImportRequest((photos,), "auto"))
    wait(lambda: window.state.project.image_count() == 60 and not running_workers(), settle_s=1)
    project = window.state.project
    records = sorted(project.images(), key=lambda r: r.id)
    # kept between runs of this script: measuring the statistics is the slow part
    init = calibrated_init(BACKBONE, Path(tempfile.gettempdir()) / "imgcls-shots" / f"{BACKBONE}-flowers-bn.pt",
                           images=128)
    run, classes, features, probs = fitted_run(project, records, init)

    truth = np.array([classes.index(r.labels[0]) for r in records])
    predicted = probs.argmax(1)
    samples = tuple(SampleResult(i, r.file, r.labels, (classes[predicted[i]],), tuple(map(float, probs[i])),
                                 float(-np.log(max(probs[i, truth[i]], 1e-9)))) for i, r in enumerate(records))
    matrix = np.zeros((len(classes), len(classes)), dtype=int)
    np.add.at(matrix, (truth, predicted), 1)
    roc, pr = roc_pr_curves(probs, np.eye(len(classes))[truth], classes)
    results = RunResults(run, "val", "multiclass", classes, float(np.mean([s.loss for s in samples])),
                         {"accuracy": float((truth == predicted).mean())}, {c: {} for c in classes},
                         tuple(map(tuple, matrix.tolist())), None, samples, roc, pr)
    window.show_panel("training")
    training = window.panel("training")
    view = training.results
    view.show_results(results)
    training.tabs.setCurrentWidget(view)
    view.tabs.setCurrentIndex(1)
    wrong = [(t, p) for t in range(len(classes)) for p in range(len(classes)) if t != p and matrix[t, p]]
    view.show_cell(*(wrong[0] if wrong else (0, 0)))
    wait(lambda: view.cell_explanation.result is not None and not running_workers(), settle_s=1)
    wait(lambda: True, settle_s=1)
    training.grab().save(str(HERE / "gradcam-results.png"))

    made = embedding_map(features, method="umap")
    errors = 1.0 - probs[np.arange(len(truth)), truth]
    panel = window.panel("dataset")
    window.show_panel("dataset")
    panel.tabs.setCurrentWidget(panel.embedding)
    panel.embedding.show_map(MapData(tuple(r.id for r in records), tuple(r.file for r in records), made.coords,
                                     tuple(r.labels for r in records), tuple(classes[i] for i in predicted), errors,
                                     f"run {run.name}", made.method))
    panel.embedding._hover_row = 0
    panel.embedding._show_hover()
    wait(lambda: panel.embedding.thumbnails.get(records[0].file) is not None, timeout_s=120, settle_s=0.5)
    panel.embedding._show_hover()
    panel.select_images([r.id for r in records[:5]])
    wait(lambda: True, settle_s=1)
    panel.grab().save(str(HERE / "embedding-map.png"))
    window.close()


if __name__ == "__main__":
    main()
