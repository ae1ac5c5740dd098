#!/bin/bash
# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
# Start a training container with all NPUs, the dataset and this code mounted.
#   bash scripts/docker_start.sh <docker_image> <data_dir> <model_dir>
#     docker_image  the image built from the Dockerfile
#     data_dir      dataset folder on the host, mounted at the same path in the container
#     model_dir     this deliverable's folder on the host, mounted as the working directory
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: bash scripts/docker_start.sh <docker_image> <data_dir> <model_dir>" >&2
    exit 2
fi
docker_image="$1"
data_dir="$2"
model_dir="$3"
for folder in "${data_dir}" "${model_dir}"; do
    if [ ! -d "${folder}" ]; then
        echo "[Error] ${folder} is not a folder" >&2
        exit 2
    fi
done

device_args=()
for dev in /dev/davinci[0-9]*; do
    [ -e "${dev}" ] && device_args+=(--device="${dev}")
done
for dev in /dev/davinci_manager /dev/devmm_svm /dev/hisi_hdc; do
    [ -e "${dev}" ] && device_args+=(--device="${dev}")
done
mount_args=()
for path in /usr/local/Ascend/driver /usr/local/Ascend/add-ons /usr/local/sbin/npu-smi \
            /var/log/npu/conf/slog/slog.conf; do
    [ -e "${path}" ] && mount_args+=(-v "${path}:${path}:ro")
done

exec "${DOCKER:-docker}" run -it --ipc=host --network=host \
    "${device_args[@]}" "${mount_args[@]}" \
    -v "${data_dir}:${data_dir}" -v "${model_dir}:/home/efficientnet_b0" \
    -w /home/efficientnet_b0 \
    "${docker_image}" /bin/bash
