"""keras_svae: learning and inference in imaginary noise models, on Keras 3.

The models (`SigmaVAE`, `SigmaVAEFamily`, `DEEN`) and their primitives are here; the paper's
experiments are in `keras_svae.experiments`.
"""

from keras_svae import corruption
from keras_svae import data
from keras_svae import imaginary_noise
from keras_svae import networks
from keras_svae import posterior
from keras_svae.deen import DEEN
from keras_svae.family import SigmaVAEFamily  # Also registers it for keras.saving.load_model.
from keras_svae.vae import SigmaVAE, alpha_vae, sigma_vae, vanilla_vae

__all__ = [
    "DEEN", "SigmaVAE", "SigmaVAEFamily", "alpha_vae", "sigma_vae", "vanilla_vae",
    "corruption", "data", "imaginary_noise", "networks", "posterior",
]
__version__ = "0.1.0"
