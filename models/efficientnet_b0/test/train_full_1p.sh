#!/bin/bash
# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
# Full training on one device with the template recipe (90 epochs, batch 256, cosine LR 0.1).
#   bash test/train_full_1p.sh --data_path=/data/imagenet
# Re-running continues the run in the output folder (--resume auto) instead of overwriting it.
# shellcheck source=test/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
parse_args "$@"
if [ -z "${data_path}" ]; then
    echo "[Error] para \"data_path\" must be configured (--data_path=/path/to/imagenet or demo)" >&2
    exit 2
fi
locate_paths
common_train_args
status=0
run_training 1 "${train_args[@]}" --resume auto "${extra_args[@]}" || status=$?
print_summary "${status}"
