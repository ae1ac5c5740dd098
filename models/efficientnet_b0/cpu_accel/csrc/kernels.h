// Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
// see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
// The hand-written CPU kernels of this deliverable; bindings.cpp exposes them to Python.
#pragma once

#include <torch/extension.h>

#include <vector>

torch::Tensor depthwise_weight_grad(torch::Tensor x, torch::Tensor grad, int64_t kernel,
                                    int64_t stride, int64_t padding);

std::vector<torch::Tensor> batchnorm_silu_forward(torch::Tensor x, torch::Tensor weight,
                                                  torch::Tensor bias, double eps);

std::vector<torch::Tensor> batchnorm_silu_backward(torch::Tensor grad, torch::Tensor x,
                                                   torch::Tensor weight, torch::Tensor bias,
                                                   torch::Tensor mean, torch::Tensor invstd);

torch::Tensor mbconv_forward(torch::Tensor x, torch::Tensor expand_weight,
                             torch::Tensor expand_bias, torch::Tensor dw_weight,
                             torch::Tensor dw_bias, torch::Tensor reduce_weight,
                             torch::Tensor reduce_bias, torch::Tensor gate_weight,
                             torch::Tensor gate_bias, torch::Tensor project_weight,
                             torch::Tensor project_bias, bool residual, int64_t kernel,
                             int64_t stride, int64_t pad_top, int64_t pad_left, int64_t out_h,
                             int64_t out_w);
