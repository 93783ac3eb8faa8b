"""Real noise for testing the models: y = x + noise, or salt-and-pepper.

These corrupt test images for the robustness experiments (Figures 2-6). The
models never see them in training: their noise is only imaginary.
Every op takes a `seed` (int or `keras.random.SeedGenerator`) and runs on any
backend; `get(name)` looks one up by the name the experiments use, and
`apply(name, images, level, seed)` returns its result as a NumPy array.
"""

from keras import ops
from keras import random

from keras_svae import validation


def gaussian(x, sigma, seed=None):
    """y = x + eps, eps ~ N(0, sigma^2 I)."""
    sigma = validation.validate_level("sigma", sigma)
    x = ops.convert_to_tensor(x, "float32")
    return x + sigma * random.normal(ops.shape(x), dtype=x.dtype, seed=seed)


def laplace(x, alpha, seed=None):
    """y = x + eps, eps_i ~ Laplace(0, alpha) independently (mean |eps_i| = alpha).

    Drawn as the difference of two Exponential(1/alpha) variables.
    """
    alpha = validation.validate_level("alpha", alpha)
    x = ops.convert_to_tensor(x, "float32")
    # 1 - U lies in (0, 1], so the logarithm is finite.
    u = random.uniform((2,) + tuple(ops.shape(x)), dtype=x.dtype, seed=seed)
    exponentials = -ops.log(1.0 - u)
    return x + alpha * (exponentials[0] - exponentials[1])


def salt_and_pepper(x, p, seed=None):
    """Replaces each pixel with probability p by 0 or 1 (each half the time)."""
    p = validation.validate_probability("p", p)
    x = ops.convert_to_tensor(x, "float32")
    u = random.uniform((2,) + tuple(ops.shape(x)), dtype=x.dtype, seed=seed)
    salt = ops.cast(u[1] < 0.5, x.dtype)
    return ops.where(u[0] < p, salt, x)


NOISES = {"gaussian": gaussian, "laplace": laplace, "salt_and_pepper": salt_and_pepper}


def get(name):
    """The corruption called `name`: "gaussian", "laplace" or "salt_and_pepper"."""
    if name not in NOISES:
        raise ValueError(f"noise must be one of {sorted(NOISES)}, got {name!r}.")
    return NOISES[name]


def apply(name, images, level, seed=None):
    """`images` under the corruption `name` at `level` (sigma, alpha or p), as NumPy."""
    return ops.convert_to_numpy(get(name)(images, level, seed=seed))
