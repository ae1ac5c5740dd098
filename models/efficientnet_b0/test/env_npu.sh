#!/bin/bash
# Environment for training on Ascend NPUs; sourced by the train_*.sh scripts.
# Safe to source on machines without CANN (CUDA, CPU): it then only sets harmless variables.

CANN_SET_ENV="${CANN_SET_ENV:-/usr/local/Ascend/ascend-toolkit/set_env.sh}"
if [ -f "${CANN_SET_ENV}" ]; then
    # shellcheck source=/dev/null
    source "${CANN_SET_ENV}"
elif [ "${DEVICE:-auto}" = "npu" ]; then
    echo "[Warning] ${CANN_SET_ENV} not found: set CANN_SET_ENV to your CANN set_env.sh" >&2
fi

# Host-side task queue: overlaps operator dispatch with device execution.
export TASK_QUEUE_ENABLE="${TASK_QUEUE_ENABLE:-1}"
# Logs: errors only, not echoed to stdout (keeps the training log greppable).
export ASCEND_GLOBAL_LOG_LEVEL="${ASCEND_GLOBAL_LOG_LEVEL:-3}"
export ASCEND_SLOG_PRINT_TO_STDOUT="${ASCEND_SLOG_PRINT_TO_STDOUT:-0}"
export ASCEND_GLOBAL_EVENT_ENABLE="${ASCEND_GLOBAL_EVENT_ENABLE:-0}"
# HCCL: allow all NICs and give slow multi-node rendezvous time to finish.
export HCCL_WHITELIST_DISABLE="${HCCL_WHITELIST_DISABLE:-1}"
export HCCL_CONNECT_TIMEOUT="${HCCL_CONNECT_TIMEOUT:-1200}"
# Compiled operator cache shared by runs on this host.
export ASCEND_CACHE_PATH="${ASCEND_CACHE_PATH:-${HOME}/.cache/ascend}"
