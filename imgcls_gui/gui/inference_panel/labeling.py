"""Model-assisted labeling: predictions on unlabeled project images become their labels in one undoable step."""

from __future__ import annotations

from collections.abc import Sequence

from ...engine import ImgclsError, Project
from ..common.undo import SetLabelsCommand, push
from ..state import AppState
from .table import ResultRow


def unlabeled_images(project: Project) -> dict[str, int]:
    """Path (as text) → image id of every project image without a label whose file is there."""
    return {str(record.file): record.id for record in project.images() if not record.labels and record.file.is_file()}


def predicted_labels(row: ResultRow, task: str, known: set[str]) -> tuple[str, ...]:
    """The labels to give ``row``'s image: the user's correction, else the top class (single-label) or
    the labels over threshold."""
    prediction = row.prediction
    if row.image_id is None:
        return ()
    if row.corrected is not None:
        return tuple(name for name in row.corrected if name in known)
    if prediction.error:
        return ()
    if task == "multilabel":
        return tuple(name for name in prediction.labels_over_threshold if name in known)
    return (prediction.label,) if prediction.label in known else ()


def accept_predictions(state: AppState, rows: Sequence[ResultRow]) -> set[int]:
    """Label the rows' project images with their predictions (one undo step); returns the ids labeled."""
    project = state.project
    if project is None or project.closed:
        return set()
    known = set(project.class_names())
    after = {row.image_id: labels for row in rows if (labels := predicted_labels(row, project.task, known))}
    if not after:
        raise ImgclsError(
            "None of these predictions can become a label: the images are not unlabeled project images, "
            "no label passed its threshold, or the model's classes are not classes of this project."
        )
    before = project.labels_of(after)
    push(state, SetLabelsCommand(state, before, after, f"Accept {len(after)} predicted label(s)"))
    return set(after)
