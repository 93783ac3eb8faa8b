"""The reference: the sigma-VAE written in plain PyTorch, trained eagerly.

The same network as `keras_svae.networks` (3x3 SiLU convolutions with
channels 32/64/128 and 'same' padding, Dense(200) SiLU, a linear (mean,
log-variance) readout of dz = 100; decoder Dense(2000) SiLU and a logistic
readout), the same loss (eq. 7: ||x - x_hat||^2 / (2 sigma^2) + KL, batch
mean) and Adam, with no input pipeline at all: every step reads one fixed
batch. It is what a researcher would write by hand, and the yardstick of
benchmarks/speed.py.
"""

import math
import time

import torch
from torch import nn


def _same_padding(size, stride, kernel=3):
    # Keras's 'same' padding, which is asymmetric (the extra row and column
    # at the end) where torch's Conv2d pads symmetrically: pad first.
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return nn.ZeroPad2d((total // 2, total - total // 2) * 2)


class SigmaVAE(nn.Module):
    def __init__(self, sigma=0.9, strides=2, channels=(32, 64, 128), units=200, latent_dim=100,
                 decoder_units=2000, image_size=28):
        super().__init__()
        self.sigma = sigma
        layers, c_in, size = [], 1, image_size
        for c in channels:
            layers += [_same_padding(size, strides), nn.Conv2d(c_in, c, 3, stride=strides), nn.SiLU()]
            c_in, size = c, math.ceil(size / strides)
        self.trunk = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_in * size * size, units),
                                   nn.SiLU())
        self.mean = nn.Linear(units, latent_dim)
        self.log_var = nn.Linear(units, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, decoder_units), nn.SiLU(),
                                     nn.Linear(decoder_units, image_size * image_size))

    def loss(self, x):
        h = self.trunk(x)
        mean, log_var = self.mean(h), self.log_var(h)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        x_hat = torch.sigmoid(self.decoder(z)).view_as(x)
        recon = (x - x_hat).square().flatten(1).sum(1) / (2 * self.sigma**2)
        kl = 0.5 * (mean.square() + log_var.exp() - 1 - log_var).sum(1)
        return (recon + kl).mean()


def images_per_second(batch_size, steps, strides=2, repeats=2, seed=0):
    """Best of `repeats` timings of `steps` Adam steps on one fixed batch."""
    torch.manual_seed(seed)
    model = SigmaVAE(strides=strides)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.rand(batch_size, 1, 28, 28)

    def step():
        optimizer.zero_grad(set_to_none=True)
        model.loss(x).backward()
        optimizer.step()

    for _ in range(3):  # Warm-up.
        step()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, time.perf_counter() - start)
    return steps * batch_size / best
