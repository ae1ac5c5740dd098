// Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
// see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
// CPU inference of EfficientNet's blocks on channels-last float32 tensors: the 1x1 expansion
// (+ bias, SiLU; absent in the first stage's blocks), the depthwise convolution (+ bias, SiLU),
// the squeeze-excitation (pool, gate) and the 1x1 projection (+ bias, + residual), with every
// BatchNorm folded into its convolution beforehand (``folding.py``).
//
// Why: the expansion's output is the largest activation of the network (32x96x112x112 floats,
// 154 MB, in B0's first expanding block at batch 32). Written out by a 1x1 convolution, read
// back by the depthwise one, then read twice more by the squeeze-excitation's pool and scale
// and once by the projection, it made those kernels the slowest of eval. Here:
// * the expanded rows that the depthwise windows need are computed into a buffer that stays in
//   cache (a band's rows when they fit, else a ring of k rows) and consumed from there;
// * the pool is summed as the depthwise outputs are written;
// * the projection runs on each image as soon as it is finished, still in cache, with the
//   image's gate folded into the projection weight (scaling input channel c is scaling row c
//   of the weight), so the depthwise output never reaches memory either.
// Where an image is smaller than its gated weight (7x7 maps in B0) the kernel stops after
// scaling by the gate and oneDNN's batched convolution projects (``fused_block.py``).
// The gain over the folded oneDNN path is measured in bench/README.md.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels.h"
#include "vector_math.h"

namespace {

using efficientnet_kernels::sigmoid;
using efficientnet_kernels::silu;
typedef float v16 __attribute__((vector_size(64)));
typedef float v8 __attribute__((vector_size(32)));
constexpr int64_t kLanes = 16;

template <typename V>
inline V load_vector(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

#if defined(__AVX512F__)
// silu(acc) stored to out[0, 16).
inline void store_silu16(float* out, v16 acc) {
  // exp(-y) as vector_math.h's exp_clamped computes it, with the scaling by 2^n done by
  // vscalefps, and 1 / (1 + e) from the 14-bit reciprocal estimate refined by one Newton step
  // (within 1 ulp of a division, at a fraction of its cost).
  const __m512 y = (__m512)acc;
  __m512 x = _mm512_sub_ps(_mm512_setzero_ps(), y);
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.0f)), _mm512_set1_ps(-87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __m512 d = _mm512_add_ps(_mm512_scalef_ps(p, n), _mm512_set1_ps(1.0f));
  __m512 inv = _mm512_rcp14_ps(d);
  inv = _mm512_mul_ps(inv, _mm512_fnmadd_ps(d, inv, _mm512_set1_ps(2.0f)));
  _mm512_storeu_ps(out, _mm512_mul_ps(y, inv));
}
#endif

// The 1x1 convolutions, for P consecutive NHWC pixels:
//   out[p][o] = f(bias[o] + sum_k in[p][k] * w[k][o])
// with f = SiLU (the expansion) or + residual[p][o] (the projection; residual may be null).
// P pixels x one vector of outputs in registers, one weight vector loaded per k for all P
// pixels; V is 16 lanes, or 8 for the last 8 of a count like 24 or 40.
enum class Epilogue { kSilu, kResidual };

// acc stored to out, through the epilogue's SiLU if it has one.
template <Epilogue E, typename V>
inline void store_vector(float* out, V acc) {
  constexpr int64_t lanes = sizeof(V) / sizeof(float);
  if constexpr (E == Epilogue::kResidual) {
    std::memcpy(out, &acc, sizeof acc);
#if defined(__AVX512F__)
  } else if constexpr (lanes == 16) {
    store_silu16(out, acc);
#endif
  } else {
    float tmp[lanes];
    std::memcpy(tmp, &acc, sizeof tmp);
#pragma omp simd
    for (int64_t i = 0; i < lanes; ++i) out[i] = silu(tmp[i]);
  }
}

template <int P, typename V, Epilogue E>
inline void gemm_chunk(const float* in, int64_t K, const float* w, const float* bias,
                       int64_t cout, int64_t o0, const float* residual, float* out) {
  V acc[P];
  const V b = load_vector<V>(bias + o0);
  for (int p = 0; p < P; ++p) {
    acc[p] = b;
    if (E == Epilogue::kResidual && residual != nullptr)
      acc[p] += load_vector<V>(residual + p * cout + o0);
  }
  for (int64_t k = 0; k < K; ++k) {
    const V wv = load_vector<V>(w + k * cout + o0);
    for (int p = 0; p < P; ++p) acc[p] += in[p * K + k] * wv;
  }
  for (int p = 0; p < P; ++p) store_vector<E>(out + p * cout + o0, acc[p]);
}

template <int P, Epilogue E>
inline void gemm_pixels(const float* in, int64_t K, const float* w, const float* bias,
                        int64_t cout, const float* residual, float* out) {
  int64_t o0 = 0;
  for (; o0 + 16 <= cout; o0 += 16) gemm_chunk<P, v16, E>(in, K, w, bias, cout, o0, residual, out);
  for (; o0 + 8 <= cout; o0 += 8) gemm_chunk<P, v8, E>(in, K, w, bias, cout, o0, residual, out);
  for (; o0 < cout; ++o0) {
    for (int p = 0; p < P; ++p) {
      float a = bias[o0];
      if (E == Epilogue::kResidual && residual != nullptr) a += residual[p * cout + o0];
      for (int64_t k = 0; k < K; ++k) a += in[p * K + k] * w[k * cout + o0];
      out[p * cout + o0] = E == Epilogue::kSilu ? silu(a) : a;
    }
  }
}

// `pixels` consecutive NHWC pixels (any number of whole rows) through the 1x1 convolution.
template <Epilogue E>
void gemm(const float* in, int64_t pixels, int64_t K, const float* w, const float* bias,
          int64_t cout, const float* residual, float* out) {
  int64_t p = 0;
  auto at = [&](int64_t q) { return residual == nullptr ? nullptr : residual + q * cout; };
  for (; p + 8 <= pixels; p += 8)
    gemm_pixels<8, E>(in + p * K, K, w, bias, cout, at(p), out + p * cout);
  for (; p + 4 <= pixels; p += 4)
    gemm_pixels<4, E>(in + p * K, K, w, bias, cout, at(p), out + p * cout);
  for (; p < pixels; ++p) gemm_pixels<1, E>(in + p * K, K, w, bias, cout, at(p), out + p * cout);
}

void expand(const float* in, int64_t pixels, int64_t cin, const float* w, const float* bias,
            int64_t cmid, float* out) {
  gemm<Epilogue::kSilu>(in, pixels, cin, w, bias, cmid, nullptr, out);
}

struct Depthwise {
  const float* weight;  // (k*k, C)
  const float* bias;    // (C)
  int64_t k, stride, pad_left, width, channels;
};

// B output pixels ox..ox+B-1 of one row whose windows lie inside the row (no column padding):
// B independent accumulators per 16 channels, so the k*k multiply-adds of one output are not
// one chain of dependent instructions, and each weight vector serves B outputs. K is the
// kernel size when known at compile time (3, 5: the loops unroll and neighbouring outputs share
// their input loads), 0 for any other.
template <int B, int K>
inline void depthwise_interior(const Depthwise& d, const float* const* rows, int64_t ox,
                               float* out, float* pooled) {
  const int64_t C = d.channels, k = K > 0 ? K : d.k, s = d.stride;
  const int64_t x0 = ox * s - d.pad_left;
  int64_t c0 = 0;
  for (; c0 + kLanes <= C; c0 += kLanes) {
    v16 acc[B];
    const v16 b = load_vector<v16>(d.bias + c0);
    for (int j = 0; j < B; ++j) acc[j] = b;
    for (int64_t ky = 0; ky < k; ++ky) {
      const float* r = rows[ky] + x0 * C + c0;
      const float* wk = d.weight + ky * k * C + c0;
      for (int64_t kx = 0; kx < k; ++kx) {
        const v16 w = load_vector<v16>(wk + kx * C);
        for (int j = 0; j < B; ++j) acc[j] += load_vector<v16>(r + (j * s + kx) * C) * w;
      }
    }
    for (int j = 0; j < B; ++j) {
      float* o = out + (ox + j) * C + c0;
      store_vector<Epilogue::kSilu>(o, acc[j]);
      float* ps = pooled + c0;
#pragma omp simd
      for (int64_t i = 0; i < kLanes; ++i) ps[i] += o[i];
    }
  }
  for (; c0 < C; ++c0) {
    for (int j = 0; j < B; ++j) {
      float a = d.bias[c0];
      for (int64_t ky = 0; ky < k; ++ky)
        for (int64_t kx = 0; kx < k; ++kx)
          a += rows[ky][(x0 + j * s + kx) * C + c0] * d.weight[(ky * k + kx) * C + c0];
      const float v = silu(a);
      out[(ox + j) * C + c0] = v;
      pooled[c0] += v;
    }
  }
}

template <int K>
inline int64_t depthwise_interior_run(const Depthwise& d, const float* const* rows, int64_t ox,
                                      int64_t last, float* out, float* pooled) {
  for (; ox + 4 <= last; ox += 4) depthwise_interior<4, K>(d, rows, ox, out, pooled);
  for (; ox < last; ++ox) depthwise_interior<1, K>(d, rows, ox, out, pooled);
  return ox;
}

// One output pixel anywhere in the row: the window's columns outside the image are skipped.
inline void depthwise_border(const Depthwise& d, const float* const* rows, int64_t ox, float* out,
                             float* pooled) {
  const int64_t C = d.channels, k = d.k;
  const int64_t x0 = ox * d.stride - d.pad_left;
  const int64_t kx0 = std::max<int64_t>(0, -x0), kx1 = std::min<int64_t>(k, d.width - x0);
  for (int64_t c = 0; c < C; ++c) out[ox * C + c] = d.bias[c];
  for (int64_t ky = 0; ky < k; ++ky) {
    for (int64_t kx = kx0; kx < kx1; ++kx) {
      const float* r = rows[ky] + (x0 + kx) * C;
      const float* w = d.weight + (ky * k + kx) * C;
      float* o = out + ox * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) o[c] += r[c] * w[c];
    }
  }
  float* o = out + ox * C;
  for (int64_t c = 0; c < C; ++c) {
    o[c] = silu(o[c]);
    pooled[c] += o[c];
  }
}

// Output row `out` (out_w pixels) from the k input rows of its windows (a zero row where the
// window leaves the image vertically).
void depthwise_row(const Depthwise& d, const float* const* rows, int64_t out_w, float* out,
                   float* pooled) {
  // Interior outputs: windows entirely within [0, width).
  const int64_t first = std::min(out_w, (d.pad_left + d.stride - 1) / d.stride);
  int64_t last = first;  // one past the last interior output
  while (last < out_w && last * d.stride - d.pad_left + d.k <= d.width) ++last;
  for (int64_t ox = 0; ox < first; ++ox) depthwise_border(d, rows, ox, out, pooled);
  if (d.k == 3)
    depthwise_interior_run<3>(d, rows, first, last, out, pooled);
  else if (d.k == 5)
    depthwise_interior_run<5>(d, rows, first, last, out, pooled);
  else
    depthwise_interior_run<0>(d, rows, first, last, out, pooled);
  for (int64_t ox = last; ox < out_w; ++ox) depthwise_border(d, rows, ox, out, pooled);
}

// The squeeze-excitation of one image: gate = sigmoid(w_gate silu(w_reduce mean + b_reduce) +
// b_gate), then out *= gate, channel by channel. Done by the task that computed the image,
// while its output is still in cache, instead of as a separate pass over memory.
struct SqueezeExcite {
  const float* w_reduce;  // (S, C)
  const float* b_reduce;  // (S)
  const float* w_gate;    // (C, S)
  const float* b_gate;    // (C)
  int64_t squeezed, channels;

  // gate[c] for the channel sums of one image over `count` pixels.
  void gate(const double* sums, double count, float* gate) const {
    const int64_t C = channels, S = squeezed;
    std::vector<float> mean(C), hidden(S);
    for (int64_t c = 0; c < C; ++c) mean[c] = static_cast<float>(sums[c] / count);
    for (int64_t j = 0; j < S; ++j) {
      float a = b_reduce[j];
      for (int64_t c = 0; c < C; ++c) a += w_reduce[j * C + c] * mean[c];
      hidden[j] = silu(a);
    }
    for (int64_t c = 0; c < C; ++c) {
      float a = b_gate[c];
      for (int64_t j = 0; j < S; ++j) a += w_gate[c * S + j] * hidden[j];
      gate[c] = sigmoid(a);
    }
  }

  void apply(const double* sums, double count, float* image, int64_t pixels) const {
    std::vector<float> g(channels);
    gate(sums, count, g.data());
    const float* gp = g.data();
    for (int64_t p = 0; p < pixels; ++p) {
      float* o = image + p * channels;
      efficientnet_kernels::for_each_channel(channels, [&](int64_t c) { o[c] *= gp[c]; });
    }
  }
};

// The projection weight with the squeeze-excitation's gate folded in: scaling input channel c
// by gate[c] before the projection is scaling row c of its (C, C_out) weight.
void gated_weight(const float* weight, const float* gate, int64_t channels, int64_t cout,
                  float* out) {
  for (int64_t c = 0; c < channels; ++c) {
    const float g = gate[c];
    const float* w = weight + c * cout;
    float* o = out + c * cout;
#pragma omp simd
    for (int64_t j = 0; j < cout; ++j) o[j] = w[j] * g;
  }
}

// Expanded rows held in cache: the rows of a band computed at once when they fit in
// kBandBytes (small images: the pixel blocks run across rows), else a ring of k rows.
constexpr int64_t kBandBytes = 768 * 1024;

}  // namespace

torch::Tensor mbconv_forward(torch::Tensor x, torch::Tensor expand_weight,
                             torch::Tensor expand_bias, torch::Tensor dw_weight,
                             torch::Tensor dw_bias, torch::Tensor reduce_weight,
                             torch::Tensor reduce_bias, torch::Tensor gate_weight,
                             torch::Tensor gate_bias, torch::Tensor project_weight,
                             torch::Tensor project_bias, bool residual, int64_t kernel,
                             int64_t stride, int64_t pad_top, int64_t pad_left, int64_t out_h,
                             int64_t out_w) {
  TORCH_CHECK(x.dim() == 4 && x.scalar_type() == at::kFloat, "expected a 4-d float32 input");
  auto xs = x.permute({0, 2, 3, 1}).contiguous();  // NHWC view; free for channels-last input
  const int64_t N = xs.size(0), H = xs.size(1), W = xs.size(2), Cin = xs.size(3);
  const bool expanding = expand_weight.numel() > 0, projecting = project_weight.numel() > 0;
  const int64_t C = dw_weight.size(1), k = kernel, S = reduce_weight.size(0), s = stride;
  const int64_t Cout = projecting ? project_weight.size(1) : C;
  for (const auto* t : {&expand_weight, &expand_bias, &dw_weight, &dw_bias, &reduce_weight,
                        &reduce_bias, &gate_weight, &gate_bias, &project_weight, &project_bias})
    TORCH_CHECK(t->scalar_type() == at::kFloat && t->is_contiguous(),
                "weights must be contiguous float32 tensors");
  TORCH_CHECK(dw_weight.dim() == 2 && dw_weight.size(0) == k * k,
              "depthwise weight must be packed as (k*k, channels)");
  TORCH_CHECK(expanding ? (expand_weight.dim() == 2 && expand_weight.size(0) == Cin &&
                           expand_weight.size(1) == C && expand_bias.numel() == C)
                        : C == Cin,
              "expansion weight must be packed as (in_channels, channels)");
  TORCH_CHECK(!projecting || (project_weight.dim() == 2 && project_weight.size(0) == C &&
                              project_bias.numel() == Cout),
              "projection weight must be packed as (channels, out_channels)");
  TORCH_CHECK(reduce_weight.numel() == S * C && gate_weight.numel() == C * S,
              "squeeze-excitation weights do not match the channels");
  TORCH_CHECK(dw_bias.numel() == C && reduce_bias.numel() == S && gate_bias.numel() == C,
              "a bias does not match its layer");
  TORCH_CHECK(out_h > 0 && out_w > 0 && k > 0 && s > 0 && pad_top >= 0 && pad_left >= 0,
              "bad output size, kernel, stride or padding");
  TORCH_CHECK(!residual || (projecting && Cout == Cin && out_h == H && out_w == W),
              "a residual needs a projection back to the input's shape");
  auto out = torch::empty({N, out_h, out_w, Cout}, xs.options());
  // Tasks: whole images when there are enough for every thread, else bands of output rows
  // (a batch smaller than the thread count), whose squeeze-excitation then waits for all bands.
  const int64_t threads = at::get_num_threads();
  const int64_t bands = std::min<int64_t>(out_h, std::max<int64_t>(1, (2 * threads + N - 1) / N));
  const int64_t band_rows = (out_h + bands - 1) / bands;
  const int64_t pixels = out_h * out_w;
  // The depthwise output: the result itself, or, before a projection, a scratch tensor
  // (whole images per task: one image's worth per thread, consumed while in cache).
  torch::Tensor staged;
  if (projecting && bands > 1) staged = torch::empty({N, out_h, out_w, C}, xs.options());
  auto sums = torch::zeros({N, bands, C}, xs.options().dtype(at::kDouble));
  const float* X = xs.data_ptr<float>();
  const float* WT = expand_weight.data_ptr<float>();
  const float* BE = expand_bias.data_ptr<float>();
  const float* WP = project_weight.data_ptr<float>();
  const float* BP = project_bias.data_ptr<float>();
  float* O = out.data_ptr<float>();
  float* STAGED = staged.defined() ? staged.data_ptr<float>() : nullptr;
  double* SUMS = sums.data_ptr<double>();
  const Depthwise dw{dw_weight.data_ptr<float>(), dw_bias.data_ptr<float>(), k, s, pad_left, W, C};
  const SqueezeExcite se{reduce_weight.data_ptr<float>(), reduce_bias.data_ptr<float>(),
                         gate_weight.data_ptr<float>(), gate_bias.data_ptr<float>(), S, C};
  const double area = static_cast<double>(pixels);
  // Input rows a band of band_rows outputs reads, at most.
  const int64_t band_in_rows = std::min(H, (band_rows - 1) * s + k);
  const bool whole_band = band_in_rows * W * C * 4 <= kBandBytes;
  const int64_t buffer_rows = !expanding ? 0 : (whole_band ? band_in_rows : k);
  // Projection of image n from its depthwise output dw_out, with its gate folded in.
  auto project_image = [&](int64_t n, const float* dw_out, const double* image_sums,
                           std::vector<float>& gate, std::vector<float>& weight) {
    se.gate(image_sums, area, gate.data());
    gated_weight(WP, gate.data(), C, Cout, weight.data());
    gemm<Epilogue::kResidual>(dw_out, pixels, C, weight.data(), BP, Cout,
                              residual ? X + n * H * W * Cin : nullptr, O + n * pixels * Cout);
  };
  at::parallel_for(0, N * bands, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> buffer(static_cast<size_t>((buffer_rows + 1) * W * C), 0.0f);
    const float* zero_row = buffer.data() + buffer_rows * W * C;
    std::vector<float> image_out(projecting && bands == 1 ? pixels * C : 0);
    std::vector<float> gate(projecting ? C : 0), weight(projecting ? C * Cout : 0);
    std::vector<int64_t> held(k);
    std::vector<float> row_sums(C);
    std::vector<const float*> rows(k);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t n = task / bands, band = task % bands;
      const int64_t oy0 = band * band_rows, oy1 = std::min(out_h, oy0 + band_rows);
      double* band_sums = SUMS + (n * bands + band) * C;
      if (oy0 >= oy1) continue;  // the last bands of a short image can be empty
      float* dw_out = !projecting ? O + n * pixels * C
                                  : (bands == 1 ? image_out.data() : STAGED + n * pixels * C);
      const float* image = X + n * H * W * Cin;
      std::fill(held.begin(), held.end(), -1);
      const int64_t iy_lo = std::max<int64_t>(0, oy0 * s - pad_top);
      const int64_t iy_hi = std::min(H, (oy1 - 1) * s - pad_top + k);  // one past
      if (expanding && whole_band && iy_hi > iy_lo)
        expand(image + iy_lo * W * Cin, (iy_hi - iy_lo) * W, Cin, WT, BE, C, buffer.data());
      for (int64_t oy = oy0; oy < oy1; ++oy) {
        for (int64_t ky = 0; ky < k; ++ky) {
          const int64_t iy = oy * s - pad_top + ky;
          if (iy < 0 || iy >= H) {
            rows[ky] = zero_row;
          } else if (!expanding) {
            rows[ky] = image + iy * W * Cin;
          } else if (whole_band) {
            rows[ky] = buffer.data() + (iy - iy_lo) * W * C;
          } else {
            float* slot = buffer.data() + (iy % k) * W * C;
            if (held[iy % k] != iy) {
              expand(image + iy * W * Cin, W, Cin, WT, BE, C, slot);
              held[iy % k] = iy;
            }
            rows[ky] = slot;
          }
        }
        // The pool: a row's sum in float, rows summed in double.
        std::fill(row_sums.begin(), row_sums.end(), 0.0f);
        depthwise_row(dw, rows.data(), out_w, dw_out + oy * out_w * C, row_sums.data());
        for (int64_t c = 0; c < C; ++c) band_sums[c] += row_sums[c];
      }
      if (bands > 1) continue;
      if (projecting)
        project_image(n, dw_out, band_sums, gate, weight);
      else
        se.apply(band_sums, area, dw_out, pixels);
    }
  });
  if (bands > 1) {  // a small batch: each image's squeeze-excitation after all its bands
    auto image_sums = sums.sum(1).contiguous();
    const double* IS = image_sums.data_ptr<double>();
    at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> gate(C), weight(projecting ? C * Cout : 0);
      for (int64_t n = begin; n < end; ++n) {
        if (projecting)
          project_image(n, STAGED + n * pixels * C, IS + n * C, gate, weight);
        else
          se.apply(IS + n * C, area, O + n * pixels * C, pixels);
      }
    });
  }
  return out.permute({0, 3, 1, 2});
}
