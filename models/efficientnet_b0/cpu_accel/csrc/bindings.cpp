// Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
// see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
#include "kernels.h"

namespace {

// The width of the vectors this build was compiled for: the fast paths whose register blocking
// is sized for 512-bit vectors ask for it (``kernels.load(kernels.WIDE_VECTORS)``).
int64_t vector_bits() {
#if defined(__AVX512F__)
  return 512;
#elif defined(__AVX2__)
  return 256;
#else
  return 128;
#endif
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("vector_bits", &vector_bits, "width in bits of the vectors this build was compiled for");
  m.def("depthwise_weight_grad", &depthwise_weight_grad,
        "depthwise convolution weight gradient, NHWC float32 CPU");
  m.def("batchnorm_silu_forward", &batchnorm_silu_forward,
        "training-mode BatchNorm followed by SiLU, NHWC float32 CPU: (out, mean, invstd, var)");
  m.def("batchnorm_silu_backward", &batchnorm_silu_backward,
        "gradients of batchnorm_silu_forward: (grad_x, grad_weight, grad_bias)");
  m.def("mbconv_forward", &mbconv_forward,
        "inference of an MBConv block: 1x1 expansion + SiLU (optional), depthwise conv + SiLU, "
        "squeeze-excitation, 1x1 projection (+ residual; optional); NHWC float32 CPU, "
        "BatchNorms folded, weights packed channels-innermost");
}
