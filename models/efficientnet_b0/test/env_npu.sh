#!/bin/bash
# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
# Environment for training on Ascend NPUs; sourced by the train_*.sh scripts.
# Safe to source on machines without CANN (CUDA, CPU): it then only sets harmless variables.
# Every switch keeps a value already in the environment, so a caller can override any of them.
# Meanings are those of the CANN / torch_npu environment-variable references.

CANN_SET_ENV="${CANN_SET_ENV:-/usr/local/Ascend/ascend-toolkit/set_env.sh}"
if [ -f "${CANN_SET_ENV}" ]; then
    # shellcheck source=/dev/null
    source "${CANN_SET_ENV}"
elif [ "${DEVICE:-auto}" = "npu" ]; then
    echo "[Warning] ${CANN_SET_ENV} not found: set CANN_SET_ENV to your CANN set_env.sh" >&2
fi

# TASK_QUEUE_ENABLE (torch_npu): 0 dispatches each operator synchronously from the Python thread;
# 1 puts dispatch on a host task queue that overlaps with device execution; 2 also splits the
# queue's work between two threads (pipeline optimisation, newer torch_npu). 1 works everywhere.
export TASK_QUEUE_ENABLE="${TASK_QUEUE_ENABLE:-1}"
# ASCEND_LAUNCH_BLOCKING=1 would run every operator synchronously (and turn the task queue off):
# for locating a failing operator only, never for speed. Left unset here.
# ASCEND_GLOBAL_LOG_LEVEL (CANN): host log level, 0 debug, 1 info, 2 warning, 3 error.
export ASCEND_GLOBAL_LOG_LEVEL="${ASCEND_GLOBAL_LOG_LEVEL:-3}"
# ASCEND_SLOG_PRINT_TO_STDOUT (CANN): 1 prints the host log to the screen instead of its log
# files; 0 keeps it in the files, so the training log stays greppable.
export ASCEND_SLOG_PRINT_TO_STDOUT="${ASCEND_SLOG_PRINT_TO_STDOUT:-0}"
# ASCEND_GLOBAL_EVENT_ENABLE (CANN): 1 records event logs as well; 0 off.
export ASCEND_GLOBAL_EVENT_ENABLE="${ASCEND_GLOBAL_EVENT_ENABLE:-0}"
# HCCL_WHITELIST_DISABLE (HCCL): 1 turns off the communication whitelist (any NIC may join);
# 0 admits only the hosts listed in HCCL_WHITELIST_FILE.
export HCCL_WHITELIST_DISABLE="${HCCL_WHITELIST_DISABLE:-1}"
# HCCL_CONNECT_TIMEOUT (HCCL): seconds ranks wait for each other when the communicator is built
# (default 120); 1200 gives multi-node rendezvous and first-step operator compilation time.
export HCCL_CONNECT_TIMEOUT="${HCCL_CONNECT_TIMEOUT:-1200}"
# ASCEND_CACHE_PATH (CANN): where compiled operators are cached, shared by runs on this host.
export ASCEND_CACHE_PATH="${ASCEND_CACHE_PATH:-${HOME}/.cache/ascend}"
