"""docs/robustness.md lists every kind of bad input the corpus generates."""

from __future__ import annotations

from pathlib import Path

from .corpus import CSV_CASES, IMAGE_CASES, voc_cases
from .helpers import REPO
from .test_bad_model_files import EXPECTED as MODEL_FILES
from .test_model_bombs import EXPECTED as MODEL_BOMBS
from .test_bad_onnx_outputs import EXPECTED as ONNX_OUTPUTS
from .test_bad_train_options import OPTION_CASES
from .test_bad_config_files import CONFIG_CASES
from .test_damaged_project import CASES as DAMAGED_PROJECTS
from .test_damaged_split import RUN_FILE_CASES, SPLIT_CASES
from .test_terminal_output import ESCAPES


def test_the_robustness_table_names_every_corpus_kind():
    table = (REPO / "docs" / "robustness.md").read_text(encoding="utf-8")
    kinds = [case.name for case in IMAGE_CASES] + list(CSV_CASES) + list(voc_cases(Path("x"), "http://x")) + list(MODEL_FILES)
    kinds += list(DAMAGED_PROJECTS) + list(ESCAPES) + list(CONFIG_CASES) + list(SPLIT_CASES) + list(MODEL_BOMBS)
    kinds += list(ONNX_OUTPUTS)
    kinds += list(OPTION_CASES) + list(RUN_FILE_CASES)
    assert len(kinds) >= 30
    assert [kind for kind in kinds if f"`{kind}`" not in table] == []
