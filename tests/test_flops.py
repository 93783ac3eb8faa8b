"""benchmarks/flops.py: multiply-adds from shapes, against hand counts and XLA's own count."""

import os
import sys

import keras
import numpy as np
import pytest

from conftest import REPO
from keras_svae import DEEN, sigma_vae

sys.path.insert(0, os.path.join(REPO, "benchmarks"))
import flops  # noqa: E402


def test_hand_counted_layers():
    dense = keras.Sequential([keras.Input((7,)), keras.layers.Dense(5), keras.layers.Dense(3)])
    assert flops.forward_macs(dense, (7,)) == 7 * 5 + 5 * 3
    # 'same' padding: a 9 x 9 input at stride 2 gives 5 x 5 outputs.
    conv = keras.Sequential([keras.Input((9, 9, 2)), keras.layers.Conv2D(4, 3, strides=2,
                                                                         padding="same")])
    assert flops.forward_macs(conv, (9, 9, 2)) == 5 * 5 * 3 * 3 * 2 * 4


def test_the_papers_networks():
    # Section 5's sigma-VAE (stride 2): convolutions 14*14*9*32 + 7*7*9*32*64 + 4*4*9*64*128,
    # fc 2048*200, two heads 200*100, decoder 100*2000 + 2000*784.
    convs = 14 * 14 * 9 * 32 + 7 * 7 * 9 * 32 * 64 + 4 * 4 * 9 * 64 * 128
    encoder = convs + 2048 * 200 + 2 * 200 * 100
    assert flops.forward_macs(sigma_vae(0.9), (28, 28, 1)) == encoder + 100 * 2000 + 2000 * 784
    assert flops.forward_macs(DEEN(0.9).energy_network, (28, 28, 1)) == convs + 2048 * 200 + 200


def test_layers_run_normally_afterwards():
    model = sigma_vae(0.9)
    flops.forward_macs(model, (28, 28, 1))
    assert "call" not in vars(model.encoder.features.convs[0])  # The wrapper is gone.


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="XLA's cost analysis via JAX")
def test_agrees_with_xlas_count():
    import jax

    model = DEEN(0.9).energy_network
    weights = [v.value for v in model.trainable_variables]
    y = np.zeros((1, 28, 28, 1), "float32")
    lowered = jax.jit(lambda w, y: model.stateless_call(w, [], y)[0]).lower(weights, y)
    analysis = lowered.compile().cost_analysis()
    analysis = analysis[0] if isinstance(analysis, list) else analysis
    # XLA counts every flop (biases, SiLU, padding); ours the products only: within 10%.
    ours = 2 * flops.forward_macs(model, (28, 28, 1))
    assert ours <= analysis["flops"] <= 1.1 * ours
