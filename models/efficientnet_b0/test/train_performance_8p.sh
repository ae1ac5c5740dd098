#!/bin/bash
# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
# Throughput on eight devices: one short epoch (1000 steps per device) without evaluation. Uses
# --data_path when given, else synthetic tensors on each device.
#   bash test/train_performance_8p.sh [--data_path=/data/imagenet]
# Each run replaces the previous performance run in <output_dir>/perf.
# shellcheck source=test/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
parse_args "$@"
locate_paths
output_dir="${output_dir}/perf"
rm -rf "${output_dir}"
mkdir -p "${output_dir}"
common_train_args
[ -z "${data_path}" ] && train_args+=(--dataset synthetic)
[ -z "${epochs}" ] && train_args+=(--epochs 1)
status=0
run_training "$((nproc_per_node * nnodes))" "${train_args[@]}" \
    --limit-train-batches "${PERF_STEPS:-1000}" --limit-val-batches 1 "${extra_args[@]}" \
    || status=$?
print_summary "${status}"
