// Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
// see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
// Weight gradient of a depthwise convolution on channels-last (NHWC) float32 CPU tensors.
//
// grad_weight[c, i, j] = sum over n, oh, ow of x[n, oh*s + i - p, ow*s + j - p, c] * grad[n, oh, ow, c]
//
// Why: oneDNN's kernel for this is about 10x its forward for 5x5 filters; this one walks each
// output row once, keeps the k*k*C accumulators of its thread in cache, and vectorises over the
// contiguous channel axis. Rows are split between threads; each thread sums into its own
// accumulators, which are added at the end, so the result does not depend on scheduling.
#include <ATen/Parallel.h>

#include "kernels.h"

torch::Tensor depthwise_weight_grad(torch::Tensor x, torch::Tensor grad, int64_t kernel,
                                    int64_t stride, int64_t padding) {
  TORCH_CHECK(x.dim() == 4 && grad.dim() == 4, "expected NCHW-shaped 4-d tensors");
  TORCH_CHECK(x.scalar_type() == at::kFloat && grad.scalar_type() == at::kFloat,
              "expected float32 tensors");
  // NHWC views: free for channels-last tensors, a copy otherwise.
  auto xs = x.permute({0, 2, 3, 1}).contiguous();
  auto gs = grad.permute({0, 2, 3, 1}).contiguous();
  const int64_t N = xs.size(0), H = xs.size(1), W = xs.size(2), C = xs.size(3);
  const int64_t Ho = gs.size(1), Wo = gs.size(2);
  TORCH_CHECK(gs.size(0) == N && gs.size(3) == C, "x and grad disagree on batch or channels");
  const int64_t k = kernel, s = stride, p = padding;
  const int threads = at::get_num_threads();
  auto partial = torch::zeros({threads, k, k, C}, xs.options());
  const float* X = xs.data_ptr<float>();
  const float* G = gs.data_ptr<float>();
  float* P = partial.data_ptr<float>();
  at::parallel_for(0, N * Ho, 1, [&](int64_t begin, int64_t end) {
    float* acc = P + at::get_thread_num() * k * k * C;
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / Ho, oh = row % Ho;
      const float* grow = G + (n * Ho + oh) * Wo * C;
      for (int64_t i = 0; i < k; ++i) {
        const int64_t ih = oh * s + i - p;
        if (ih < 0 || ih >= H) continue;
        const float* xrow = X + (n * H + ih) * W * C;
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const float* gp = grow + ow * C;
          for (int64_t j = 0; j < k; ++j) {
            const int64_t iw = ow * s + j - p;
            if (iw < 0 || iw >= W) continue;
            const float* xp = xrow + iw * C;
            float* a = acc + (i * k + j) * C;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) a[c] += xp[c] * gp[c];
          }
        }
      }
    }
  });
  // (threads, k, k, C) -> (C, 1, k, k), the layout of a depthwise weight.
  return partial.sum(0).permute({2, 0, 1}).unsqueeze(1).contiguous();
}
