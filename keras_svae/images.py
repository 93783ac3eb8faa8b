"""Grids of images: the one tiling that TensorBoard, the figures and the panels draw.

Images are (H, W, C) arrays in [0, 1] of any size, grey-scale (C = 1) or colour
(C = 3); nothing here assumes MNIST.
"""

import numpy as np


def tile(grid):
    """(rows, columns, H, W, C) images -> one (rows * H, columns * W, C) array, clipped to [0, 1]."""
    grid = np.clip(np.asarray(grid, np.float32), 0.0, 1.0)
    if grid.ndim != 5:
        raise ValueError(f"A grid of images has shape (rows, columns, H, W, C), got {grid.shape}.")
    rows, columns, h, w, c = grid.shape
    return grid.transpose(0, 2, 1, 3, 4).reshape(rows * h, columns * w, c)


def in_rows(images, columns):
    """(n, H, W, C) images -> (n // columns, columns, H, W, C), row-major (a partial row dropped)."""
    images = np.asarray(images)
    rows = len(images) // columns
    return images[:rows * columns].reshape((rows, columns) + images.shape[1:])


def show(ax, image):
    """Draws a tiled (H, W, C) image on a matplotlib axis: grey-scale for one channel."""
    grey = image.shape[-1] == 1
    ax.imshow(image[..., 0] if grey else image, cmap="gray" if grey else None, vmin=0.0, vmax=1.0,
              interpolation="nearest")
    ax.axis("off")
