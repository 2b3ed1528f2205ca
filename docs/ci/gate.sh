#!/usr/bin/env bash
# embedbench's regression gate as a plain shell recipe, for any CI (GitHub Actions: see embedbench-gate.yml).
#
# Runs a small profile (prep -> train -> eval; each step skips what is up to date), then the gate, which
# writes JUnit XML, Markdown and JSON verdicts, appends the Markdown to $GITHUB_STEP_SUMMARY when that is
# set, and exits 0 (pass), 1 (a task regressed) or 2 (bad input or configuration). Optionally posts the
# Markdown as a pull-request comment with the GitHub CLI.
#
# Keep $EMBEDBENCH_CACHE between runs (your CI's cache step): it holds the embedding store
# (embeddings.sqlite: each text is encoded once per model, ever) and the model builds and backend exports
# (models/). With a warm cache an unchanged model re-encodes nothing.
#
# Settings (environment variables, all optional):
#   EMBEDBENCH_CONFIG     experiment file of the profile             (default: bench-ci.toml)
#   EMBEDBENCH_STEPS      pipeline steps run before the gate           (default: "prep train eval")
#   EMBEDBENCH_CANDIDATE  model checked                                (default: [eval.check] candidate)
#   EMBEDBENCH_GATE_OUT   folder of junit.xml, summary.md, check.json  (default: embedbench-gate)
#   EMBEDBENCH_CACHE      embeddings and model exports; cache it       (default: .embedbench-cache)
#   EMBEDBENCH_PR         pull-request number to comment on with `gh` (needs GH_TOKEN; default: none)
#   EMBEDBENCH            the embedbench command                       (default: embedbench)
set -euo pipefail

config=${EMBEDBENCH_CONFIG:-bench-ci.toml}
steps=${EMBEDBENCH_STEPS-prep train eval}
out=${EMBEDBENCH_GATE_OUT:-embedbench-gate}
export EMBEDBENCH_CACHE=${EMBEDBENCH_CACHE:-$PWD/.embedbench-cache}
read -r -a embedbench <<< "${EMBEDBENCH:-embedbench}"

for step in $steps; do
  echo "== embedbench $step --config $config"
  "${embedbench[@]}" "$step" --config "$config"
done

mkdir -p "$out"
candidate=()
[ -n "${EMBEDBENCH_CANDIDATE:-}" ] && candidate=(--candidate "$EMBEDBENCH_CANDIDATE")
echo "== embedbench check --config $config"
set +e
"${embedbench[@]}" check --config "$config" "${candidate[@]}" \
  --junit "$out/junit.xml" --markdown "$out/summary.md" --json "$out/check.json"
status=$?
set -e

if [ -n "${EMBEDBENCH_PR:-}" ] && [ -f "$out/summary.md" ]; then
  if command -v gh >/dev/null; then
    gh pr comment "$EMBEDBENCH_PR" --body-file "$out/summary.md" || echo "warning: could not comment on PR $EMBEDBENCH_PR" >&2
  else
    echo "warning: EMBEDBENCH_PR is set but the GitHub CLI (gh) is not installed; not commenting" >&2
  fi
fi
exit "$status"
