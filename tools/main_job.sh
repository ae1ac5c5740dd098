#!/usr/bin/env bash
# The README's main job, on the bundled deliverable models/efficientnet_b0:
#   validate -> render --check -> provenance -> train on the built-in demo dataset -> evaluate -> export ONNX
# then a summary (accuracy, images/s, where the checkpoint, logs and ONNX file went).
# Works from a clean clone with nothing but Python 3.11 and bash; a few minutes on 2 CPU cores.
#   DEMO_EPOCHS=N       epochs of the demo training run (default: the demo entry point's, 5)
#   MODELZOO_OFFLINE=1  skip the network in the provenance step (it also goes offline by itself
#                       when no network is reachable, and says so)
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
# shellcheck source=tools/setup_env.sh
source tools/setup_env.sh "train"

deliverable=models/efficientnet_b0
demo_args=()
if [ -n "${DEMO_EPOCHS:-}" ]; then
    demo_args+=(--epochs "$DEMO_EPOCHS")
fi
run_dir="runs/demo-$(date +%Y%m%d-%H%M%S)"   # inside the deliverable; runs/ is git-ignored there
started=$SECONDS

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "1/6 modelzoo validate $deliverable"
modelzoo validate "$deliverable"

step "2/6 modelzoo render --check $deliverable (README.md zh and README.en.md)"
modelzoo render --check "$deliverable"

step "3/6 modelzoo provenance $deliverable"
provenance_args=(--cache "$repo_root/.cache/provenance")
if [ "${MODELZOO_OFFLINE:-0}" = "1" ]; then
    provenance_args+=(--offline)
fi
modelzoo provenance "$deliverable" "${provenance_args[@]}"

step "4/6 train on the built-in demo dataset"
modelzoo run "$deliverable" demo -- "${demo_args[@]}" --output-dir "$run_dir"

step "5/6 evaluate the best checkpoint"
modelzoo run "$deliverable" demo-evaluate -- --resume "$run_dir/best.pt"

step "6/6 export to ONNX (checked against PyTorch with onnxruntime)"
modelzoo run "$deliverable" demo-export -- \
    --pretrained "$run_dir/best.pt" --export-onnx "$run_dir/efficientnet_b0.onnx"

step "summary"
python tools/summarize_run.py "$deliverable/$run_dir" --seconds "$((SECONDS - started))"
