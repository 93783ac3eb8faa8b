"""keras_svae: learning and inference in imaginary noise models, on Keras 3."""

from keras_svae.sigma_vae import SigmaVAE, alpha_vae, sigma_vae, vanilla_vae

__all__ = ["SigmaVAE", "alpha_vae", "sigma_vae", "vanilla_vae"]
__version__ = "0.1.0"
