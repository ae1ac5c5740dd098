# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in the parent folder. SPDX-License-Identifier: Apache-2.0
"""The network (plain PyTorch modules, the same on every device) and its weights formats."""
