# Copyright 2026 The modelzoo-kit Authors. Licensed under the Apache License, Version 2.0;
# see LICENSE in this folder. SPDX-License-Identifier: Apache-2.0
"""The built-in demo dataset: ten classes of procedurally drawn shapes and textures.

Why it exists: so that ``python train.py`` trains, evaluates and checkpoints on any machine with
no download. It is a real, learnable task (a from-scratch EfficientNet-B0 gets well above chance
within minutes on a CPU), not random noise.

It is deterministic: every image is drawn from a ``random.Random`` seeded with its own path, so two
machines produce byte-identical PNG files. It is written atomically: images go to a temporary
sibling folder that is renamed into place only when complete, so an interrupted generation never
leaves a half dataset behind, and several processes (DDP ranks) may race to create it safely.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
from pathlib import Path

from common.errors import DataError
from PIL import Image, ImageDraw

DEMO_VERSION = 1
DEMO_CLASSES = (
    "circle",
    "square",
    "triangle",
    "cross",
    "ring",
    "horizontal_stripes",
    "vertical_stripes",
    "checkerboard",
    "diagonal_stripes",
    "dots",
)
IMAGE_SIZE = 64
TRAIN_PER_CLASS = 260
VAL_PER_CLASS = 50
MARKER = "demo_dataset.json"


def _manifest() -> dict:
    return {
        "version": DEMO_VERSION,
        "classes": list(DEMO_CLASSES),
        "image_size": IMAGE_SIZE,
        "train_per_class": TRAIN_PER_CLASS,
        "val_per_class": VAL_PER_CLASS,
    }


def _colours(rng: random.Random) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """A background and a foreground colour that differ clearly in brightness."""
    while True:
        bg = tuple(rng.randrange(256) for _ in range(3))
        fg = tuple(rng.randrange(256) for _ in range(3))
        if abs(sum(bg) - sum(fg)) > 240:
            return bg, fg  # type: ignore[return-value]


def _stripes(draw: ImageDraw.ImageDraw, rng: random.Random, fg, angle_deg: float) -> None:
    period = rng.uniform(7.0, 14.0)
    width = period * rng.uniform(0.35, 0.55)
    phase = rng.uniform(0.0, period)
    angle = math.radians(angle_deg + rng.uniform(-8.0, 8.0))
    dx, dy = math.cos(angle), math.sin(angle)  # stripe normal
    size = IMAGE_SIZE
    reach = size * 1.5
    offset = -reach + phase
    while offset < reach:
        cx, cy = size / 2 + dx * offset, size / 2 + dy * offset
        tx, ty = -dy * reach, dx * reach  # along the stripe
        nx, ny = dx * width / 2, dy * width / 2
        draw.polygon(
            [
                (cx + tx - nx, cy + ty - ny),
                (cx + tx + nx, cy + ty + ny),
                (cx - tx + nx, cy - ty + ny),
                (cx - tx - nx, cy - ty - ny),
            ],
            fill=fg,
        )
        offset += period


def draw_demo_image(class_name: str, rng: random.Random) -> Image.Image:
    """Draw one image of ``class_name`` with position, size, colours and noise from ``rng``."""
    size = IMAGE_SIZE
    bg, fg = _colours(rng)
    image = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(image)
    radius = rng.uniform(0.2, 0.4) * size
    cx = rng.uniform(radius, size - radius)
    cy = rng.uniform(radius, size - radius)
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    if class_name == "circle":
        draw.ellipse(box, fill=fg)
    elif class_name == "square":
        angle = rng.uniform(-0.3, 0.3)
        corners = [angle + math.pi / 4 + k * math.pi / 2 for k in range(4)]
        draw.polygon([(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in corners], fg)
    elif class_name == "triangle":
        angle = rng.uniform(-0.3, 0.3) - math.pi / 2
        corners = [angle + k * 2 * math.pi / 3 for k in range(3)]
        draw.polygon([(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in corners], fg)
    elif class_name == "cross":
        bar = radius * rng.uniform(0.25, 0.4)
        draw.rectangle((cx - radius, cy - bar, cx + radius, cy + bar), fill=fg)
        draw.rectangle((cx - bar, cy - radius, cx + bar, cy + radius), fill=fg)
    elif class_name == "ring":
        draw.ellipse(box, outline=fg, width=max(2, round(radius * rng.uniform(0.2, 0.35))))
    elif class_name == "horizontal_stripes":
        _stripes(draw, rng, fg, 90.0)
    elif class_name == "vertical_stripes":
        _stripes(draw, rng, fg, 0.0)
    elif class_name == "diagonal_stripes":
        _stripes(draw, rng, fg, rng.choice((45.0, 135.0)))
    elif class_name == "checkerboard":
        cell = rng.randrange(6, 13)
        ox, oy = rng.randrange(cell), rng.randrange(cell)
        for row in range(-1, size // cell + 2):
            for col in range(-1, size // cell + 2):
                if (row + col) % 2 == 0:
                    x0, y0 = col * cell - ox, row * cell - oy
                    draw.rectangle((x0, y0, x0 + cell - 1, y0 + cell - 1), fill=fg)
    elif class_name == "dots":
        spacing = rng.uniform(9.0, 15.0)
        dot = spacing * rng.uniform(0.18, 0.3)
        ox, oy = rng.uniform(0, spacing), rng.uniform(0, spacing)
        y = -spacing + oy
        while y < size + spacing:
            x = -spacing + ox
            while x < size + spacing:
                draw.ellipse((x - dot, y - dot, x + dot, y + dot), fill=fg)
                x += spacing
            y += spacing
    else:
        raise ValueError(f"unknown demo class {class_name!r}")
    noise = Image.frombytes("RGB", (size, size), rng.randbytes(size * size * 3))
    return Image.blend(image, noise, rng.uniform(0.05, 0.2))


def _is_demo_dataset(root: Path) -> bool:
    try:
        return json.loads((root / MARKER).read_text()) == _manifest()
    except (OSError, ValueError):
        return False


def _generate_into(folder: Path) -> None:
    for split, count in (("train", TRAIN_PER_CLASS), ("val", VAL_PER_CLASS)):
        for class_name in DEMO_CLASSES:
            class_dir = folder / split / class_name
            class_dir.mkdir(parents=True)
            for index in range(count):
                rng = random.Random(f"demo-v{DEMO_VERSION}/{split}/{class_name}/{index}")
                draw_demo_image(class_name, rng).save(class_dir / f"{class_name}_{index:04d}.png")
    (folder / MARKER).write_text(json.dumps(_manifest(), indent=2) + "\n")


def ensure_demo_dataset(root: str | os.PathLike[str], log=print) -> Path:
    """Return ``root`` holding the demo dataset (``train/``, ``val/``), generating it if absent.

    Raises ``DataError`` when ``root`` exists but holds something else, so a user's own folder
    is never mixed with or mistaken for the demo images.
    """
    root = Path(root).expanduser().resolve()
    if root.exists():
        if _is_demo_dataset(root):
            return root
        raise DataError(
            f"{root} exists but is not the built-in demo dataset (no matching {MARKER}); "
            "remove it or pass another --demo-root"
        )
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the demo dataset folder {root.parent}: {exc}") from None
    total = len(DEMO_CLASSES) * (TRAIN_PER_CLASS + VAL_PER_CLASS)
    log(f"generating the demo dataset ({total} images, {len(DEMO_CLASSES)} classes) in {root}")
    temporary = root.parent / f".{root.name}.tmp-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        _generate_into(temporary)
        os.replace(temporary, root)
    except OSError as exc:
        shutil.rmtree(temporary, ignore_errors=True)
        if _is_demo_dataset(root):  # another process finished first
            return root
        raise DataError(f"cannot write the demo dataset to {root}: {exc}") from None
    return root
