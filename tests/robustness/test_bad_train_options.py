"""Out-of-range run options are one line naming the option and its valid range (issue 12, "Train flags").

The cases are generated from the option table itself: for every numeric option, a value just past each
bound, NaN, infinity and text, given as an ``imgcls train`` flag and as a config.yaml key. A new option
with a range is covered without touching this file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator

import pytest

from imgcls_gui import cli
from imgcls_gui.engine import ConfigError, OptionSpec, RunConfig, run_options

NUMERIC = [spec for spec in run_options() if spec.kind in (int, float) and spec.flag]


def _past_bounds(spec: OptionSpec) -> Iterator[str]:
    """Values just outside each bound (on an open bound: the bound itself)."""
    step = 1 if spec.kind is int else 1e-3
    low, high = spec.option.minimum, spec.option.maximum
    if low is not None:
        yield str(spec.kind(low)) if spec.option.min_open else str(spec.kind(low - step))
    if high is not None:
        yield str(spec.kind(high)) if spec.option.max_open else str(spec.kind(high + step))


# kind -> values for one option ("{name}" cases in docs/robustness.md)
OPTION_CASES = {
    "flag-out-of-range": _past_bounds,
    "flag-nan": lambda spec: iter(["nan"] if spec.kind is float else []),
    "flag-infinity": lambda spec: iter(["inf", "-inf"] if spec.kind is float else []),
    "flag-not-a-number": lambda spec: iter(["ten", "1,5"]),
}


def _cases() -> list[tuple[str, OptionSpec, str]]:
    return [(kind, spec, value) for kind, values in OPTION_CASES.items() for spec in NUMERIC for value in values(spec)]


@pytest.mark.parametrize(("kind", "spec", "value"), _cases(), ids=lambda v: getattr(v, "name", str(v)))
def test_each_bad_value_is_one_line_with_the_flag_and_its_range(kind, spec, value, tmp_path, capsys):
    code = cli.main(["train", str(tmp_path), "--out", str(tmp_path / "run"), f"{spec.flag}={value}"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"imgcls: error: {spec.flag} {value}") and spec.range_text() in lines[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("spec", NUMERIC, ids=lambda s: s.name)
def test_a_config_key_out_of_range_names_its_key_path(spec, tmp_path):
    for value in [*(_as_number(spec, v) for v in _past_bounds(spec)), *([math.nan, math.inf] if spec.kind is float else [])]:
        path = tmp_path / "run.json"
        path.write_text(json.dumps({spec.section: {spec.key: value}}))
        with pytest.raises(ConfigError) as info:
            RunConfig.from_file(path)
        assert f"{path}: config.{spec.name}: " in str(info.value) and spec.range_text() in str(info.value)


def test_resume_with_any_other_flag_names_it(tmp_path, capsys):
    for spec in run_options():
        if spec.flag is None or spec.name == "train.epochs":  # --epochs N is what --resume takes
            continue
        flag = [spec.flag] if spec.kind is bool else [spec.flag, spec.choices[0] if spec.choices else "1"]
        assert cli.main(["train", "--resume", str(tmp_path), *flag]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"imgcls: error: {spec.flag} cannot be given with --resume") and "\n" not in err


def test_threads_beyond_the_cores_are_refused(tmp_path, capsys):
    for threads in (0, -1, (os.cpu_count() or 1) + 1, 10**9):
        assert cli.main(["predict", str(tmp_path / "m.onnx"), str(tmp_path), "--out", "p.csv", "--threads",
                         str(threads)]) == 2
        assert capsys.readouterr().err.startswith(f"imgcls: error: --threads {threads} is out of range")


def _as_number(spec: OptionSpec, text: str) -> float:
    return spec.kind(text)
