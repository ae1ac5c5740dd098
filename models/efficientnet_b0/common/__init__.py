# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in the parent folder. SPDX-License-Identifier: Apache-2.0
"""What every part shares: error types, atomic file writes, the sealed checkpoint format."""
