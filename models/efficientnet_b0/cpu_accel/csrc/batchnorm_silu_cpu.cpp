// Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
// see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
// Training-mode BatchNorm (batch statistics) followed by SiLU, forward and backward, on
// channels-last (NHWC) float32 CPU tensors.
//
// Why: as two ATen ops the pair passes over the activation about five times in the forward
// (statistics, normalise, SiLU) and eight in the backward (silu_backward reads grad and the
// BatchNorm's output and writes a gradient that batch_norm_backward reads twice, with x), and
// autograd keeps the BatchNorm's output alive only for the SiLU's backward. Here the forward
// reads x twice (statistics, then normalise and SiLU in one loop) and writes once: three passes.
// The backward recomputes the normalised value from x instead of keeping it; it reads grad and
// x and writes the SiLU's gradient into grad_x's memory while summing, then reads that and x to
// finish grad_x in place: six passes. B0 has 33 such pairs, on its largest activations.
//
// Numerics: sums are taken in float over blocks of 64 pixels, then in double; the statistics
// are of x minus its first pixel, so a large mean does not cancel the variance's digits. The
// variance is the biased one, as BatchNorm normalises with; the caller derives the unbiased one
// for the running estimate. Threads split the pixels and add their own partial sums at the end,
// so a result depends on the thread count only, never on scheduling.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "vector_math.h"

namespace {

using efficientnet_kernels::for_each_channel;
using efficientnet_kernels::silu;
using efficientnet_kernels::silu_derivative;

constexpr int64_t kBlock = 64;  // pixels summed in float before joining the double sums

// A channels-last tensor as its [pixels, channels] matrix: free when x is channels-last.
torch::Tensor pixels_by_channels(const torch::Tensor& t) {
  return t.permute({0, 2, 3, 1}).contiguous();
}

// The [pixels, channels] matrix back as an NCHW-shaped, channels-last tensor.
torch::Tensor channels_last_view(const torch::Tensor& nhwc) { return nhwc.permute({0, 3, 1, 2}); }

void check_inputs(const torch::Tensor& x, const torch::Tensor& weight,
                  const torch::Tensor& bias) {
  TORCH_CHECK(x.dim() == 4, "expected a 4-d NCHW-shaped tensor, got ", x.dim(), " dimensions");
  TORCH_CHECK(x.scalar_type() == at::kFloat && weight.scalar_type() == at::kFloat &&
                  bias.scalar_type() == at::kFloat,
              "expected float32 tensors");
  TORCH_CHECK(weight.numel() == x.size(1) && bias.numel() == x.size(1),
              "weight and bias need one value per channel (", x.size(1), ")");
  TORCH_CHECK(x.numel() > x.size(1), "batch statistics need more than one value per channel");
}

// Per-channel sums over all pixels of f(pixel row, channel), in float over blocks of kBlock
// pixels and in double across blocks and threads. `Term` fills two per-channel float partials.
template <typename Term>
std::vector<double> channel_sums(int64_t pixels, int64_t channels, Term term) {
  const int threads = at::get_num_threads();
  std::vector<double> partial(static_cast<size_t>(threads) * 2 * channels, 0.0);
  at::parallel_for(0, pixels, kBlock, [&](int64_t begin, int64_t end) {
    double* first = partial.data() + static_cast<size_t>(at::get_thread_num()) * 2 * channels;
    double* second = first + channels;
    std::vector<float> block_first(channels), block_second(channels);
    for (int64_t start = begin; start < end; start += kBlock) {
      std::fill(block_first.begin(), block_first.end(), 0.0f);
      std::fill(block_second.begin(), block_second.end(), 0.0f);
      const int64_t stop = std::min(start + kBlock, end);
      for (int64_t p = start; p < stop; ++p) term(p, block_first.data(), block_second.data());
      for (int64_t c = 0; c < channels; ++c) {
        first[c] += block_first[c];
        second[c] += block_second[c];
      }
    }
  });
  std::vector<double> total(2 * channels, 0.0);
  for (int t = 0; t < threads; ++t)
    for (int64_t i = 0; i < 2 * channels; ++i) total[i] += partial[t * 2 * channels + i];
  return total;
}

}  // namespace

std::vector<torch::Tensor> batchnorm_silu_forward(torch::Tensor x, torch::Tensor weight,
                                                  torch::Tensor bias, double eps) {
  check_inputs(x, weight, bias);
  const auto xs = pixels_by_channels(x);
  const int64_t C = xs.size(3), P = xs.numel() / C;
  const float* X = xs.data_ptr<float>();
  const float* shift = X;  // the first pixel

  const auto sums = channel_sums(P, C, [&](int64_t p, float* s1, float* s2) {
    const float* row = X + p * C;
    for_each_channel(C, [&](int64_t c) {
      const float d = row[c] - shift[c];
      s1[c] += d;
      s2[c] += d * d;
    });
  });

  const auto stats_options = x.options();
  auto mean = torch::empty({C}, stats_options);
  auto invstd = torch::empty({C}, stats_options);
  auto var = torch::empty({C}, stats_options);
  const auto w = weight.contiguous(), b = bias.contiguous();
  const float* W = w.data_ptr<float>();
  const float* B = b.data_ptr<float>();
  std::vector<float> scale(C), offset(C);
  for (int64_t c = 0; c < C; ++c) {
    const double shifted_mean = sums[c] / P;
    const double variance = std::max(sums[C + c] / P - shifted_mean * shifted_mean, 0.0);
    const double m = shift[c] + shifted_mean;
    const double inv = 1.0 / std::sqrt(variance + eps);
    mean.data_ptr<float>()[c] = static_cast<float>(m);
    var.data_ptr<float>()[c] = static_cast<float>(variance);
    invstd.data_ptr<float>()[c] = static_cast<float>(inv);
    scale[c] = static_cast<float>(W[c] * inv);
    offset[c] = static_cast<float>(B[c] - m * W[c] * inv);
  }

  auto out = torch::empty_like(xs);
  float* O = out.data_ptr<float>();
  const float* S = scale.data();
  const float* F = offset.data();
  at::parallel_for(0, P, kBlock, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const float* row = X + p * C;
      float* dst = O + p * C;
      for_each_channel(C, [&](int64_t c) {
        const float y = row[c] * S[c] + F[c];
        dst[c] = silu(y);
      });
    }
  });
  return {channels_last_view(out), mean, invstd, var};
}

std::vector<torch::Tensor> batchnorm_silu_backward(torch::Tensor grad, torch::Tensor x,
                                                   torch::Tensor weight, torch::Tensor bias,
                                                   torch::Tensor mean, torch::Tensor invstd) {
  check_inputs(x, weight, bias);
  TORCH_CHECK(grad.sizes() == x.sizes(), "grad and x differ in shape");
  const auto xs = pixels_by_channels(x);
  const auto gs = pixels_by_channels(grad.to(at::kFloat));
  const int64_t C = xs.size(3), P = xs.numel() / C;
  const float* X = xs.data_ptr<float>();
  const float* G = gs.data_ptr<float>();
  const auto w = weight.contiguous(), b = bias.contiguous();
  const auto mu = mean.contiguous(), inv = invstd.contiguous();
  const float* W = w.data_ptr<float>();
  const float* B = b.data_ptr<float>();
  const float* M = mu.data_ptr<float>();
  const float* I = inv.data_ptr<float>();
  std::vector<float> scale(C), offset(C);
  for (int64_t c = 0; c < C; ++c) {
    scale[c] = W[c] * I[c];
    offset[c] = B[c] - M[c] * scale[c];
  }
  const float* S = scale.data();
  const float* F = offset.data();

  // dy, the gradient at the BatchNorm's output (through the SiLU), is written into grad_x's
  // memory while its sums are taken, then turned into grad_x in place: one SiLU derivative per
  // value instead of two, which is what this loop's time goes to on a few cores.
  auto grad_x = torch::empty_like(xs);
  float* D = grad_x.data_ptr<float>();
  const auto sums = channel_sums(P, C, [&](int64_t p, float* sum_dy, float* sum_dy_xmu) {
    const float* xrow = X + p * C;
    const float* grow = G + p * C;
    float* dyrow = D + p * C;
    for_each_channel(C, [&](int64_t c) {
      const float dy = grow[c] * silu_derivative(xrow[c] * S[c] + F[c]);
      dyrow[c] = dy;
      sum_dy[c] += dy;
      sum_dy_xmu[c] += dy * (xrow[c] - M[c]);
    });
  });

  auto grad_weight = torch::empty({C}, x.options());
  auto grad_bias = torch::empty({C}, x.options());
  // dx = w * invstd * (dy - sum(dy) / P - (x - mean) * invstd^2 * sum(dy * (x - mean)) / P)
  std::vector<float> k_dy(C), k_xmu(C), k_const(C);
  for (int64_t c = 0; c < C; ++c) {
    const double sum_dy = sums[c], sum_dy_xmu = sums[C + c];
    const double i = I[c];
    grad_weight.data_ptr<float>()[c] = static_cast<float>(sum_dy_xmu * i);
    grad_bias.data_ptr<float>()[c] = static_cast<float>(sum_dy);
    k_dy[c] = static_cast<float>(W[c] * i);
    k_xmu[c] = static_cast<float>(-W[c] * i * i * i * sum_dy_xmu / P);
    k_const[c] = static_cast<float>(-W[c] * i * sum_dy / P);
  }
  const float* K1 = k_dy.data();
  const float* K2 = k_xmu.data();
  const float* K3 = k_const.data();
  at::parallel_for(0, P, kBlock, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const float* xrow = X + p * C;
      float* dst = D + p * C;
      for_each_channel(C, [&](int64_t c) {
        dst[c] = dst[c] * K1[c] + (xrow[c] - M[c]) * K2[c] + K3[c];
      });
    }
  });
  return {channels_last_view(grad_x), grad_weight, grad_bias};
}
