# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in the parent folder. SPDX-License-Identifier: Apache-2.0
"""Images in: image folders, the built-in demo dataset, loaders, decoding on the device."""
