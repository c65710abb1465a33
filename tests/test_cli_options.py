"""`imgcls train` flags come from the option table: every option has one, bad values end in one line,
and `--resume RUN --epochs N` continues a run while any other flag with --resume is refused."""

from __future__ import annotations

import json

import pytest

from imgcls_gui.cli import build_parser, main
from imgcls_gui.commands.train import SET_ANOTHER_WAY, config_from_args
from imgcls_gui.engine import PRESETS, RunConfig, matches, option_spec, run_options
from imgcls_gui.engine.presets import preset_value
from imgcls_gui.engine.checkpoint import load_checkpoint

from .engine.tiny_data import make_class_folders

TINY = ["--model", "mobilenet_v3_small", "--weights", "none", "--image-size", "32", "--batch-size", "8",
        "--workers", "0", "--device", "cpu", "--freeze", "none", "--quiet"]


def _train_flags() -> set[str]:
    train = build_parser()._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    return {flag for action in train._actions for flag in action.option_strings}


def test_every_option_has_a_flag_or_says_how_it_is_set():
    flags = _train_flags()
    for spec in run_options():
        if spec.flag is None:
            assert spec.name in SET_ANOTHER_WAY, f"{spec.name} has no flag"
        else:
            assert spec.flag in flags, f"no {spec.flag} for {spec.name}"
    for flag in ("--deterministic", "--channels-last", "--no-channels-last", "--feature-cache", "--feature-views",
                 "--cache-images", "--no-amp", "--no-crop", "--vflip", "--early-stopping", "--workers", "--blur"):
        assert flag in flags


def test_flags_the_gui_had_alone_reach_the_config():
    args = build_parser().parse_args(["train", "data", "--deterministic", "--no-channels-last", "--no-feature-cache",
                                      "--feature-views", "4", "--cache-images", "--freeze", "3", "--lr", "5e-4",
                                      "--no-hflip", "--early-stopping", "2", "--cpu-speed", "channels-last+bf16"])
    cfg = config_from_args(args)
    assert (cfg.train.deterministic, cfg.train.channels_last, cfg.train.feature_cache) == (True, False, False)
    assert (cfg.train.feature_views, cfg.data.cache_images, cfg.data.path) == (4, True, "data")
    assert (cfg.freeze.mode, cfg.freeze.groups, cfg.optim.lr) == ("first-n", 3, 5e-4)
    assert (cfg.augment.hflip, cfg.train.early_stopping_patience, cfg.train.cpu_speed) == (False, 2, "channels-last+bf16")
    assert cfg.model == RunConfig().model  # nothing else moved


@pytest.mark.parametrize(("flag", "value"), [
    ("--lr", "-1"), ("--lr", "nan"), ("--momentum", "1"), ("--weight-decay", "-0.1"),
    ("--label-smoothing", "1.5"), ("--epochs", "0"), ("--epochs", "-2"), ("--epochs", "two"), ("--gamma", "inf"),
    ("--val-fraction", "1"), ("--workers", "-5"), ("--feature-views", "-1"), ("--dropout", "1"),
])
def test_a_flag_out_of_range_is_one_line_naming_the_flag_and_the_range(flag, value, tmp_path, capsys):
    data = make_class_folders(tmp_path / "data", per_class=2)
    assert main(["train", str(data), "--out", str(tmp_path / "run"), *TINY, flag, value]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    spec = next(s for s in run_options() if s.flag == flag)
    assert len(lines) == 1 and lines[0].startswith(f"imgcls: error: {flag} {value}"), lines
    assert spec.range_text() in lines[0]
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_threads_are_capped_at_the_core_count(tmp_path, capsys):
    import os

    args = ["predict", str(tmp_path / "model.onnx"), str(tmp_path), "--out", str(tmp_path / "p.csv")]
    assert main([*args, "--threads", str((os.cpu_count() or 1) + 1)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("imgcls: error: --threads") and f"from 1 to {os.cpu_count() or 1}" in err


def test_resume_with_epochs_continues_a_finished_run_and_refuses_other_flags(tmp_path, capsys):
    data = make_class_folders(tmp_path / "data", per_class=6)
    run = tmp_path / "run"
    assert main(["train", str(data), "--out", str(run), "--epochs", "1", *TINY]) == 0
    capsys.readouterr()

    for extra in (["--lr", "0.1"], ["--no-amp"], ["--model", "resnet18"], ["--out", str(tmp_path / "x")], [str(data)],
                  ["--preset", "balanced"]):
        assert main(["train", "--resume", str(run), "--epochs", "2", *extra]) == 2
        err = capsys.readouterr().err.strip()
        named = "DATA" if extra == [str(data)] else extra[0]
        assert err.startswith(f"imgcls: error: {named} cannot be given with --resume") and "\n" not in err
    assert main(["train", "--resume", str(run)]) == 2  # finished: nothing left without more epochs
    assert "--epochs 2 or more" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--epochs", "1"]) == 2
    assert "--epochs 2 or more" in capsys.readouterr().err

    assert main(["train", "--resume", str(run), "--epochs", "3", "--quiet"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics["history"]] == [0, 1, 2]
    state = load_checkpoint(run / "last.pt")
    assert state["epoch"] == 3 and state["config"]["train"]["epochs"] == 3
    assert RunConfig.from_file(run / "config.yaml").train.epochs == 3  # the run list sees it finished again
    # The schedule is recomputed for the new total: the added epochs get a 3-epoch run's rates.
    assert main(["train", str(data), "--out", str(tmp_path / "three"), "--epochs", "3", *TINY]) == 0
    fresh = json.loads((tmp_path / "three" / "metrics.json").read_text())["history"]
    assert [row["lr"] for row in metrics["history"][1:]] == pytest.approx([row["lr"] for row in fresh[1:]])
    assert option_spec("train.epochs").flag == "--epochs"


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.cli_name)
def test_a_preset_of_the_training_panel_sets_its_values_and_flags_still_win(preset, tmp_path):
    config = tmp_path / "base.yaml"
    config.write_text("model:\n  name: mobilenet_v3_small\noptim:\n  lr: 0.05\n", encoding="utf-8")
    args = build_parser().parse_args(["train", "data", "--config", str(config), "--preset", preset.cli_name,
                                      "--epochs", "7"])
    cfg = config_from_args(args)
    assert cfg.train.epochs == 7  # a flag beats the preset
    others = [(name, value) for name, value in preset.values if name != "train.epochs"]
    assert [(name, preset_value(cfg, name)) for name, _ in others] == others  # every other preset value is in
    assert (cfg.model.name, cfg.optim.lr) == ("mobilenet_v3_small", 0.05)  # what the preset does not name: the file's
    by_label = config_from_args(build_parser().parse_args(["train", "data", "--preset", preset.name.upper()]))
    assert matches(by_label, preset)  # the panel's label works too, in any case


def test_an_unknown_preset_is_one_line_listing_the_names(tmp_path, capsys):
    assert main(["train", "data", "--out", str(tmp_path / "run"), "--preset", "fastest"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "imgcls: error: --preset fastest: use one of " + ", ".join(p.cli_name for p in PRESETS) + "."


def test_the_cli_takes_engine_names_only_from_the_public_face():
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "imgcls_gui"
    for path in [package / "cli.py", *sorted((package / "commands").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and "engine" in node.module.split("."):
                assert node.module == "engine", f"{path.name}:{node.lineno} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any(".engine." in alias.name for alias in node.names), f"{path.name}:{node.lineno}"
