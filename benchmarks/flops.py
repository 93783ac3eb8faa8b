"""Multiply-adds of a Keras model's forward pass, counted from its layers' shapes.

Only convolutions and matrix products count (the usual convention; biases,
activations, pooling and the loss are a few percent here). One forward pass
at batch 1 records each `Conv2D` (`PatchConv2D` included) and `Dense`
layer's input and output shapes; a convolution costs out_h * out_w * kh *
kw * c_in * c_out multiply-adds, a Dense layer in * out per row. A FLOP is
half a multiply-add's work: FLOPs = 2 * MACs.

Training costs by the same rule: reverse mode costs twice the forward pass
it differentiates, so a sigma-VAE step is 3 forward passes; DEEN's estimator
x_hat(y) is the energy's forward and its input gradient (2 passes), and its
training step differentiates that (3 * 2 = 6 passes of the energy network).
"""

import math

import keras
import numpy as np


def forward_macs(layer, input_shape):
    """Multiply-adds per example of `layer`'s forward pass on `input_shape` (no batch axis)."""
    total = 0

    def recorder(inner, call):
        def recorded(inputs, *args, **kwargs):
            nonlocal total
            outputs = call(inputs, *args, **kwargs)
            rows = math.prod(tuple(inputs.shape)[1:-1])  # Dense on rank > 2: per row.
            if isinstance(inner, keras.layers.Conv2D):
                kh, kw = inner.kernel_size
                out_h, out_w = outputs.shape[1:3]
                total += out_h * out_w * kh * kw * inputs.shape[-1] * inner.filters
            else:
                total += rows * inputs.shape[-1] * inner.units
            return outputs

        return recorded

    counted = [inner for inner in layer._flatten_layers()
               if isinstance(inner, (keras.layers.Conv2D, keras.layers.Dense))]
    for inner in counted:
        inner.call = recorder(inner, inner.call)  # Shadows the method on this instance.
    try:
        layer(np.zeros((1,) + tuple(input_shape), "float32"))
    finally:
        for inner in counted:
            del inner.call
    return total
