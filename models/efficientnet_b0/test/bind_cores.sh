#!/bin/bash
# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
# Runs one rank's command bound to its share of this host's CPU cores, as the Ascend ModelZoo's
# 8p scripts do with taskset: rank r of n local ranks gets the r-th of n equal slices of the
# cores this process may use. torchrun starts it once per rank (LOCAL_RANK, LOCAL_WORLD_SIZE):
#   torchrun --no-python ... bash test/bind_cores.sh python3 train.py ...
# The command runs unbound, with one note from local rank 0, when BIND_CORES=0, when taskset is
# missing, when the allowed cores cannot be read, or when there are fewer cores than ranks.
set -u -o pipefail

# The CPUs this process may use, one per line, from a list such as "0-3,8,10-11".
allowed_cpus() {
    local list range
    list="$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status 2>/dev/null)"
    [ -n "${list}" ] || return 1
    local IFS=,
    for range in ${list}; do
        if [[ "${range}" == *-* ]]; then
            seq "${range%-*}" "${range#*-}"
        else
            echo "${range}"
        fi
    done
}

run_unbound() {
    if [ "${LOCAL_RANK:-0}" = "0" ]; then
        echo "[Info] core binding skipped: $1" >&2
    fi
    exec "${@:2}"
}

main() {
    local rank="${LOCAL_RANK:-0}" ranks="${LOCAL_WORLD_SIZE:-1}"
    [ "${BIND_CORES:-1}" != "0" ] || run_unbound "BIND_CORES=0" "$@"
    command -v taskset > /dev/null || run_unbound "taskset is not installed" "$@"
    local cpus=()
    mapfile -t cpus < <(allowed_cpus) || true
    [ "${#cpus[@]}" -gt 0 ] || run_unbound "cannot read the allowed cores" "$@"
    local per_rank=$(( ${#cpus[@]} / ranks ))
    [ "${per_rank}" -ge 1 ] || run_unbound "${#cpus[@]} cores for ${ranks} ranks" "$@"
    local mine
    mine="$(IFS=,; echo "${cpus[*]:$((rank * per_rank)):${per_rank}}")"
    exec taskset -c "${mine}" "$@"
}

main "$@"
