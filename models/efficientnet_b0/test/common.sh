#!/bin/bash
# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
# Shared by the train_*.sh scripts: parses the zoo-style --key=value options, finds the
# deliverable's folder, runs train.py and prints the zoo's final summary.
#
# Options (all --key=value):
#   --data_path=PATH     ImageNet-layout dataset (train/ and val/); "demo" for the built-in one
#   --device=KIND        auto | npu | cuda | cpu            (default auto)
#   --precision=MODE     amp | fp32                         (default amp)
#   --epochs=N --batch_size=N (per device) --image_size=N --workers=N
#   --output_dir=PATH    default test/output/${ASCEND_DEVICE_ID}
#   --nproc_per_node=N --nnodes=N --node_rank=N --master_addr=HOST --master_port=PORT (8p)
# Anything after a lone "--" goes to train.py unchanged. Under torchrun every rank is bound to
# its share of the host's cores (test/bind_cores.sh; BIND_CORES=0 turns that off).

# shellcheck disable=SC2034  # variables set here are read by the scripts that source this file
set -u -o pipefail

data_path=""
device="${DEVICE:-auto}"
precision="amp"
epochs=""
batch_size=""
image_size=""
workers=""
output_dir=""
nproc_per_node="8"
nnodes="1"
node_rank="0"
master_addr="127.0.0.1"
master_port="29500"
extra_args=()

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --data_path=*) data_path="${1#*=}" ;;
            --device=*) device="${1#*=}" ;;
            --precision=*) precision="${1#*=}" ;;
            --epochs=*) epochs="${1#*=}" ;;
            --batch_size=*) batch_size="${1#*=}" ;;
            --image_size=*) image_size="${1#*=}" ;;
            --workers=*) workers="${1#*=}" ;;
            --output_dir=*) output_dir="${1#*=}" ;;
            --nproc_per_node=*) nproc_per_node="${1#*=}" ;;
            --nnodes=*) nnodes="${1#*=}" ;;
            --node_rank=*) node_rank="${1#*=}" ;;
            --master_addr=*) master_addr="${1#*=}" ;;
            --master_port=*) master_port="${1#*=}" ;;
            --) shift; extra_args=("$@"); return 0 ;;
            *) echo "[Error] unknown option $1 (options are --key=value; see test/common.sh)" >&2
               exit 2 ;;
        esac
        shift
    done
}

# The deliverable's folder (the one holding train.py), wherever the script is called from.
locate_paths() {
    test_path_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    code_dir="$(dirname "${test_path_dir}")"
    ASCEND_DEVICE_ID="${ASCEND_DEVICE_ID:-0}"
    export ASCEND_DEVICE_ID
    if [ -z "${output_dir}" ]; then
        output_dir="${test_path_dir}/output/${ASCEND_DEVICE_ID}"
    fi
    mkdir -p "${output_dir}"
    output_dir="$(cd "${output_dir}" && pwd)"
    # train.py runs in ${code_dir}: make a relative dataset path absolute first.
    if [ -n "${data_path}" ] && [ "${data_path}" != "demo" ] && [ -d "${data_path}" ]; then
        data_path="$(cd "${data_path}" && pwd)"
    fi
}

# train.py arguments common to every script, in the array train_args.
common_train_args() {
    train_args=(--device "${device}" --output-dir "${output_dir}" --progress off)
    if [ "${precision}" = "amp" ]; then
        train_args+=(--amp)
    elif [ "${precision}" != "fp32" ]; then
        echo "[Error] --precision must be amp or fp32, not ${precision}" >&2
        exit 2
    fi
    if [ "${data_path}" = "demo" ]; then
        train_args+=(--dataset demo --demo-root "${code_dir}/data/demo")
    elif [ -n "${data_path}" ]; then
        train_args+=(--data "${data_path}")
    fi
    [ -n "${epochs}" ] && train_args+=(--epochs "${epochs}")
    [ -n "${batch_size}" ] && train_args+=(--batch-size "${batch_size}")
    [ -n "${image_size}" ] && train_args+=(--image-size "${image_size}")
    [ -n "${workers}" ] && train_args+=(--workers "${workers}")
    return 0
}

# Run train.py with one process (rank_size 1) or under torchrun; log to ${log_file}.
run_training() {
    local rank_size="$1"
    shift
    local python="${PYTHON:-python3}"
    log_file="${output_dir}/train_${ASCEND_DEVICE_ID}.log"
    export RANK_SIZE="${rank_size}"
    # shellcheck source=test/env_npu.sh
    source "${test_path_dir}/env_npu.sh"
    start_time=$(date +%s)
    local status=0
    cd "${code_dir}" || exit 1
    if [ "${rank_size}" -gt 1 ] || [ "${nnodes}" -gt 1 ]; then
        # Each rank runs through bind_cores.sh, which pins it to its slice of the cores.
        "${python}" -m torch.distributed.run --nproc_per_node "${nproc_per_node}" \
            --nnodes "${nnodes}" --node_rank "${node_rank}" \
            --master_addr "${master_addr}" --master_port "${master_port}" --no-python \
            bash "${test_path_dir}/bind_cores.sh" "${python}" train.py "$@" \
            > "${log_file}" 2>&1 || status=$?
    else
        "${python}" train.py "$@" > "${log_file}" 2>&1 || status=$?
    fi
    end_time=$(date +%s)
    e2e_time=$((end_time - start_time))
    return "${status}"
}

# The zoo's closing lines; the case log itself is written by train.py into ${output_dir}.
print_summary() {
    local status="$1"
    echo "------------------ Final result ------------------"
    if [ "${status}" -ne 0 ]; then
        echo "[Error] train.py exited with status ${status}; last lines of ${log_file}:" >&2
        tail -n 20 "${log_file}" >&2
        return "${status}"
    fi
    grep -a -E "^(Final Performance images/sec|Final Train Accuracy) : " "${log_file}"
    echo "E2E Training Duration sec : ${e2e_time}"
    local case_log
    case_log="$(grep -a "^case log: " "${log_file}" | tail -n 1 | sed 's/^case log: //')"
    if [ -n "${case_log}" ] && [ -f "${case_log}" ]; then
        cat "${case_log}"
    fi
    return 0
}
