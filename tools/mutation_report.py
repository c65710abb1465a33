"""Write tools/MUTATION_RESULTS.md from the mutmut results in mutants/ (run by tools/mutation.sh).

Per module: killed / survived / timeout / no tests / total and the score. Then every surviving mutant
(file:line, the line before and after) with its explanation from tools/mutation_notes.toml, and the
survivors of earlier runs that new tests now kill. A survivor no note explains is listed as
UNEXPLAINED, so a changed module or test shows up in the report instead of hiding in a number.

A mutant that only changes the text of a user-facing message (a string inside ``raise``, a
``Problem(...)`` or an ``...Error(...)`` call) is explained by one rule: the tests check the
message's facts (which file, which column), not its wording letter by letter.
"""

from __future__ import annotations

import ast
import datetime
import fnmatch
import json
import re
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT / "tools" / "mutation_notes.toml"
RESULTS = ROOT / "tools" / "MUTATION_RESULTS.md"
# Shown in this order; the keys are tools/mutation.sh's.
MODULES = {
    "metrics": "imgcls_gui/engine/evaluation/metrics.py",
    "split": "imgcls_gui/engine/data/split.py",
    "csv_import": "imgcls_gui/engine/data/csv_import.py",
    "model_info": "imgcls_gui/engine/deploy/model_info.py",
    "checkpoint": "imgcls_gui/engine/checkpoint.py",
    "rng": "imgcls_gui/engine/training/state.py",
    "freezing": "imgcls_gui/engine/models/freezing.py",
}
MESSAGE_RULE = "message wording: the tests assert the facts a message names, not its exact letters"


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str
    status: str
    line: int
    before: str
    after: str


def main() -> int:
    sys.path.insert(0, str(ROOT))
    import os

    os.chdir(ROOT)  # mutmut reads pyproject.toml and mutants/ from the working directory
    if sys.argv[1:2] == ["--sample"]:
        return _print_sample(int(sys.argv[2]), sys.argv[3])
    if sys.argv[1:2] == ["--recheck"]:
        return _print_recheck()
    if sys.argv[1:2] == ["--refresh"]:
        return _refresh_copies()
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    notes = tomllib.loads(NOTES.read_text("utf-8")) if NOTES.exists() else {}
    rows, survivors, checked, unchecked = [], [], [], 0
    for key, path in MODULES.items():
        data = SourceFileMutationData(path=Path(path))
        data.load()
        counts = Counter(status_by_exit_code[code] for code in data.exit_code_by_key.values())
        unchecked += counts["not checked"]
        rows.append((key, path, counts, len(data.exit_code_by_key)))
        source = (ROOT / path).read_text("utf-8")
        messages = _message_lines(source)
        for name, code in sorted(data.exit_code_by_key.items(), key=lambda item: _number(item[0])):
            if status_by_exit_code[code] == "not checked":
                continue
            line, before, after = _change(get_diff_for_mutant(name, path=path), source)
            mutant = Mutant(name, path, status_by_exit_code[code], line, before, after)
            checked.append(mutant)
            if mutant.status in ("survived", "no tests", "suspicious"):
                survivors.append((mutant, _explain(mutant, notes, messages)))
    RESULTS.write_text(_render(rows, survivors, _killed_now(notes, checked), unchecked, notes.get("report", {}).get("extra", [])), "utf-8")
    unexplained = sum(1 for _, why in survivors if why is None)
    print(f"wrote {RESULTS.relative_to(ROOT)}: {len(survivors)} survivors, {unexplained} unexplained")
    return 0


def _print_sample(step: int, key: str) -> int:
    """Print every ``step``-th mutant name of a module in source order, and record the step for the report."""
    meta = ROOT / "mutants" / (MODULES[key] + ".meta")
    names = sorted(json.loads(meta.read_text("utf-8"))["exit_code_by_key"], key=_number)
    print("\n".join(names[::step]))
    record = ROOT / "mutants" / "sample.json"
    steps = json.loads(record.read_text("utf-8")) if record.exists() else {}
    record.write_text(json.dumps({**steps, key: step}), "utf-8")
    return 0


def _refresh_copies() -> int:
    """Bring mutants/'s plain copies of unmutated files up to date with the checkout.

    mutmut regenerates a mutated file whose source changed, but keeps its first copy of every other
    file; after a pull, a stale helper beside a mutated module would make tests fail for the wrong reason.
    """
    import filecmp
    import shutil

    mutated = set(tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["mutmut"]["only_mutate"])
    if not (ROOT / "mutants").is_dir():
        return 0
    for src in Path("imgcls_gui").rglob("*"):
        if src.is_dir() or "__pycache__" in src.parts or src.as_posix() in mutated:
            continue
        dst = Path("mutants") / src
        if not dst.exists() or not filecmp.cmp(src, dst, shallow=False):
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    for dst in Path("mutants/imgcls_gui").rglob("*.py"):
        if not Path(*dst.parts[1:]).exists():  # removed from the checkout: must not stay importable
            dst.unlink()
    return 0


def _print_recheck() -> int:
    """Print the mutants to run again after tests were added: survivors, those no test reached, and
    every mutant a [[killed]] note claims (checked or not), so the report's claims are this run's."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    notes = tomllib.loads(NOTES.read_text("utf-8")) if NOTES.exists() else {}
    for path in MODULES.values():
        data = SourceFileMutationData(path=Path(path))
        data.load()
        source = (ROOT / path).read_text("utf-8")
        for name, code in data.exit_code_by_key.items():
            status = status_by_exit_code[code]
            if status in ("survived", "no tests", "suspicious"):
                print(name)
                continue
            line, before, after = _change(get_diff_for_mutant(name, path=path), source)
            mutant = Mutant(name, path, status, line, before, after)
            if any(_matches(note, mutant) for note in notes.get("killed", [])) and status != "killed":
                print(name)
    return 0


def _number(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("__mutmut_")
    return stem, int(number) if number.isdigit() else 0


def _change(diff: str, source: str) -> tuple[int, str, str]:
    """(line in the source file, original line, mutated line) of a one-place mutation's diff."""
    removed = [line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    before, after = (removed[0].strip() if removed else ""), (added[0].strip() if added else "")
    lines = source.splitlines()
    hunk = re.search(r"^@@ -(\d+)", diff, re.M)
    # The diff numbers lines within the function; find the original line nearest to that place.
    candidates = [i + 1 for i, text in enumerate(lines) if text.strip() == before]
    if not candidates:
        return 0, before, after
    hint = int(hunk.group(1)) if hunk else 0
    return min(candidates, key=lambda n: abs(n - hint)) if hint else candidates[0], before, after


def _message_lines(source: str) -> set[int]:
    """Lines inside a raise statement, a Problem(...) or a ...Error(...) call: user-facing messages."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        is_message = isinstance(node, ast.Raise) or (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and (node.func.id == "Problem" or node.func.id.endswith("Error"))
        )
        if is_message:
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _only_strings_differ(before: str, after: str) -> bool:
    """True when the mutation only rewrote string text (mutmut's XX..XX, upper- or lower-casing)."""
    strip = re.compile(r"(?:[rbfu]{0,2})(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')", re.I)
    return before != after and strip.sub('""', before) == strip.sub('""', after)


def _explain(mutant: Mutant, notes: dict, messages: set[int]) -> str | None:
    for note in notes.get("survivor", []):
        if _matches(note, mutant):
            return note["why"]
    if mutant.line in messages and _only_strings_differ(mutant.before, mutant.after):
        return MESSAGE_RULE
    return None


def _matches(note: dict, mutant: Mutant) -> bool:
    return (
        fnmatch.fnmatch(mutant.file, note.get("file", "*"))
        and note.get("line_has", "") in mutant.before
        and note.get("mutant_has", "") in mutant.after
        and fnmatch.fnmatch(mutant.name, note.get("name", "*"))
    )


def _killed_now(notes: dict, checked: list[Mutant]) -> list[tuple[dict, str]]:
    """Each [[killed]] note with what this run says of the mutants it names (checked, still killed?)."""
    verdicts = []
    for note in notes.get("killed", []):
        statuses = {m.status for m in checked if _matches(note, m)}
        if not statuses:
            verdict = "not checked in this run"
        elif statuses <= {"killed", "timeout"}:
            verdict = "killed"
        else:
            verdict = "**STILL SURVIVES**"
        verdicts.append((note, verdict))
    return verdicts


def _render(rows: list, survivors: list, killed: list, unchecked: int, notes_extra: list[str]) -> str:
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    out = [
        "# Mutation testing results",
        "",
        f"Date: {today}. Tool: mutmut {version('mutmut')} (pytest {version('pytest')}, torch {version('torch')}),",
        "run by `tools/mutation.sh` with the fast tests named in `pyproject.toml [tool.mutmut]`; this file is",
        "written by `tools/mutation_report.py` (explanations: `tools/mutation_notes.toml`).",
        "",
        "Score = (killed + timeout) / (total - not checked); a survivor or a mutant no selected test reaches",
        "counts against it.",
        "",
        "| module | file | sample | killed | survived | timeout | no tests | not checked | total | score |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    record = ROOT / "mutants" / "sample.json"
    steps = json.loads(record.read_text("utf-8")) if record.exists() else {}
    for key, path, c, total in rows:
        checked = total - c["not checked"]
        caught = c["killed"] + c["timeout"]
        score = f"{100 * caught / checked:.1f}%" if checked else "n/a"
        sample = (f"every {steps[key]}th" if isinstance(steps[key], int) else steps[key]) if key in steps else "all"
        out.append(f"| {key} | `{path}` | {sample} | {c['killed']} | {c['survived'] + c['suspicious']} | {c['timeout']} "
                   f"| {c['no tests']} | {c['not checked']} | {total} | {score} |")
    if unchecked:
        out += ["", f"{unchecked} mutants were not checked (see the table): on the shared 2-core machine a mutant "
                "took 3-10 s, so modules marked 'every Nth' ran a deterministic sample (every Nth mutant in "
                "source order, `MUTATION_SAMPLE=N tools/mutation.sh`), plus any others checked on the way. "
                "Their scores cover the checked mutants only."]
    out += [f"\n{line}" for line in notes_extra]
    out += ["", "## Survivors, each explained", ""]
    if not survivors:
        out.append("None.")
    for mutant, why in survivors:
        out.append(f"- `{mutant.file}:{mutant.line}` ({mutant.status}) `{mutant.before}` → `{mutant.after}`  ")
        out.append(f"  {why if why is not None else '**UNEXPLAINED**'}")
    out += ["", "## Survivors of earlier runs now killed by new tests", "",
            "Each line: the file, the original line → the mutation, the test written for it, and this run's verdict.", ""]
    if not killed:
        out.append("None yet.")
    for note, verdict in killed:
        change = f"`{note.get('line_has', '')}` → `{note.get('mutant_has', '')}`"
        out.append(f"- `{note['file']}`: {change}: `{note['test']}` ({verdict})")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
