#!/usr/bin/env bash
# Mutation testing of the core engine modules with mutmut 3 (configured in pyproject.toml [tool.mutmut]),
# then tools/MUTATION_RESULTS.md written from the results by tools/mutation_report.py.
#
# NOT run in CI: too slow on 2 cores. Measured 2026-12-01 on the shared, loaded dev machine: a mutant
# takes 3-10 s (one pytest run of the tests that reach it; the torch-backed freezing ones longer), and
# there are ~1,900 mutants, so a full run is 2-5 hours; a first run also spends ~5 minutes collecting
# which test reaches which function. `MUTATION_SAMPLE=12` (every 12th mutant) takes about 20 minutes.
# It runs one mutant at a time (--max-children 1) with torch on one thread, to share the machine.
#
# Usage (from anywhere; needs mutmut>=3.8 in the project's venv, `pip install -e ".[mutation]"`):
#   tools/mutation.sh                 # every module, then the report
#   tools/mutation.sh metrics split   # only these (keys: metrics split csv_import model_info freezing checkpoint rng)
#   MUTATION_SAMPLE=6 tools/mutation.sh freezing   # every 6th mutant only, recorded in the report
#   tools/mutation.sh --report        # only rewrite the report from the last results in mutants/
# Results accumulate in mutants/ (git-ignored): a module run again is rerun whole; mutmut re-mutates a
# changed file by itself, and this script refreshes the other copies; delete mutants/ to start clean.
# Changing the test list in pyproject.toml makes mutmut forget every result: add tests to those files.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
mutmut="$(dirname "$python")/mutmut"

declare -A module_of=(
  [metrics]=imgcls_gui.engine.evaluation.metrics
  [split]=imgcls_gui.engine.data.split
  [csv_import]=imgcls_gui.engine.data.csv_import
  [model_info]=imgcls_gui.engine.deploy.model_info
  [freezing]=imgcls_gui.engine.models.freezing
  [checkpoint]=imgcls_gui.engine.checkpoint
  [rng]=imgcls_gui.engine.training.state
)
order=(metrics split csv_import model_info checkpoint rng freezing)  # fastest first

if [ "${1:-}" = "--report" ]; then
  exec "$python" tools/mutation_report.py
fi
keys=("$@")
[ ${#keys[@]} -gt 0 ] || keys=("${order[@]}")

# The tests import the mutated copy in mutants/ (subprocesses too); never the checkout or an editable install.
export PYTHONPATH="$root/mutants" QT_QPA_PLATFORM=offscreen
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p mutants
"$python" tools/mutation_report.py --refresh  # after a pull: unmutated copies in mutants/ follow the checkout
for key in "${keys[@]}"; do
  module="${module_of[$key]:-}"
  [ -n "$module" ] || { echo "unknown module key '$key'; use: ${order[*]}" >&2; exit 2; }
  echo "== $key ($module) $(date -u +%H:%M:%S)"
  # Names look like module.x_function__mutmut_3 and module.xǁClassǁmethod__mutmut_3.
  names=("$module.*")
  if [ -n "${MUTATION_SAMPLE:-}" ]; then
    # A documented sample: every Nth mutant of the module in source order (needs mutants/ generated,
    # which the first mutant of each function's run does).
    [ -f "mutants/${module//.//}.py.meta" ] || "$mutmut" run --max-children 1 "$module.*__mutmut_1" > mutants/last-run.log 2>&1 || true
    mapfile -t names < <("$python" tools/mutation_report.py --sample "$MUTATION_SAMPLE" "$key")
  fi
  # The first run after mutants/ is created has failed its stats step once here (pytest exit 4, not
  # reproducible by hand); a second run reuses the generated mutants and goes through.
  for attempt in 1 2; do
    if "$mutmut" run --max-children 1 "${names[@]}" > mutants/last-run.log 2>&1; then break; fi
    echo "mutmut failed (attempt $attempt); its log: mutants/last-run.log" >&2
    [ "$attempt" = 2 ] && exit 1
  done
  tr '\r' '\n' < mutants/last-run.log | grep -E 'mutations/second|^ *done' || true
done
"$python" tools/mutation_report.py
