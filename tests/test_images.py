"""One tiling of images for TensorBoard, the figures and the panels: any size, grey or colour."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from keras_svae import callbacks  # noqa: E402
from keras_svae import images as grids  # noqa: E402


def test_tile_lays_images_out_row_major_and_clips():
    images = np.arange(7, dtype="float32").reshape(7, 1, 1, 1) / 10 - 0.1
    grid = grids.tile(grids.in_rows(images.repeat(2, 1).repeat(2, 2), columns=3))
    assert grid.shape == (4, 6, 1)  # The seventh image, a partial row, is left out.
    np.testing.assert_allclose(grid[::2, ::2, 0], [[0.0, 0.0, 0.1], [0.2, 0.3, 0.4]], atol=1e-7)


def test_tiles_keep_colour_and_lay_rows_out():
    grid = np.zeros((2, 3, 4, 5, 3), "float32")
    grid[1, 2, ..., 0] = 1.0  # Red, bottom right.
    image = grids.tile(grid)
    assert image.shape == (8, 15, 3)
    assert image[4:, 10:, 0].min() == 1.0 and image[4:, 10:, 1:].max() == 0.0
    assert image[:4].max() == 0.0
    with pytest.raises(ValueError, match="rows, columns, H, W, C"):
        grids.tile(grid[0])


def test_summary_grids_are_the_same_tiling():
    rows = [np.full((2, 3, 3, 3), v, "float32") for v in (0.2, 0.7)]
    np.testing.assert_array_equal(callbacks.image_grid(rows)[0], grids.tile(np.stack(rows)))


@pytest.mark.parametrize("channels", [1, 3])
def test_show_draws_grey_and_colour(channels):
    image = np.zeros((4, 4, channels), "float32")
    image[..., 0] = 1.0
    fig, ax = plt.subplots()
    grids.show(ax, image)
    drawn = ax.get_images()[0].get_array()
    assert drawn.shape == ((4, 4) if channels == 1 else (4, 4, 3))
    plt.close(fig)
