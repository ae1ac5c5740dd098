// Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
// see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
// Elementwise math written so that the compiler vectorises it inside `#pragma omp simd` loops.
//
// Why: libm's expf is a function call, which stops a loop from vectorising unless the whole
// file is compiled with -ffast-math (which would also change the kernels' other arithmetic).
// This is the Cephes polynomial for expf (about 2 ulp on the clamped range) with the scaling by
// 2^n done on the float's exponent bits.
#pragma once

#include <cstdint>
#include <cstring>

namespace efficientnet_kernels {

// exp(x), clamped to [-87, 88] so that 2^n stays a normal float: exp(-87) ~ 1.6e-38.
inline float exp_clamped(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // n = round(x / ln2); adding and subtracting 1.5 * 2^23 rounds to the nearest integer.
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f;  // x - n*ln2 in two steps: ln2 = 0.693359375 - 2.12194440e-4
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline float sigmoid(float y) { return 1.0f / (1.0f + exp_clamped(-y)); }

inline float silu(float y) { return y * sigmoid(y); }

// d silu(y) / dy = s * (1 + y * (1 - s)) with s = sigmoid(y).
inline float silu_derivative(float y) {
  const float s = sigmoid(y);
  return s * (1.0f + y * (1.0f - s));
}

// body(c) for every channel c in [0, channels), in blocks of 16 (one AVX-512 register, two AVX2
// ones) and then one by one. A fixed trip count of 16 vectorises without the alignment peeling
// and tail loops that a loop over all the channels gets for each pixel; that is about a fifth of
// the time of a pass over an activation.
template <typename Body>
inline void for_each_channel(int64_t channels, Body body) {
  int64_t start = 0;
  for (; start + 16 <= channels; start += 16) {
#pragma omp simd
    for (int64_t c = start; c < start + 16; ++c) body(c);
  }
  for (int64_t c = start; c < channels; ++c) body(c);
}

}  // namespace efficientnet_kernels
