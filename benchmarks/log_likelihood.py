r"""Speed of the importance-weighted log p(x) (`SigmaVAE.log_likelihood`) per backend.

    python benchmarks/log_likelihood.py --data=../shared/data/mnist.npz \
        --out=docs/log_likelihood_speed.md

For the paper's sigma-VAE (its weights do not change the work), on real MNIST
test images: images per second of log p(x) at k importance samples, the
decoder's and encoder's multiply-adds it costs (`flops.forward_macs`: k decoder
passes and one encoder pass per image), the GFLOP/s that makes, and its share
of the matmul peak measured in the same process (NumPy's float32 2048 x 2048
product). Each backend runs in a process of its own, one after the other.
"""

import json
import os
import sys
import time

from absl import app
from absl import flags

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import flops  # noqa: E402
import timing  # noqa: E402

flags.DEFINE_string("data", None, "mnist.npz (default: $KERAS_SVAE_MNIST, then tfds).")
flags.DEFINE_list("backends", ["tensorflow", "jax", "torch"], "Backends to measure.")
flags.DEFINE_integer("k", 1000, "Importance samples per image.")
flags.DEFINE_integer("images", 8, "Test images per timed call.")
flags.DEFINE_integer("draws_per_call", 4096, "Decoder rows per call (the memory bound).")
flags.DEFINE_integer("repeats", 3, "Timed calls; the best is kept.")
flags.DEFINE_string("out", None, "Write the markdown table here (and the JSON beside it).")
flags.DEFINE_string("worker", None, "Internal: run one measurement (a JSON spec).")
FLAGS = flags.FLAGS


def work(spec):
    import keras
    import numpy as np

    from keras_svae import data, vae

    keras.utils.set_random_seed(0)
    model = vae.sigma_vae(0.5, seed=0)
    x = data.load_mnist("test", path=spec["data"])[0][:spec["images"]]
    run = lambda: model.log_likelihood(x, k=spec["k"], draws_per_call=spec["draws_per_call"])  # noqa: E731
    start = time.perf_counter()
    run()  # Warm-up (traces and compiles).
    warm_up = time.perf_counter() - start
    rate = timing.best_rate(run, len(x), spec["repeats"])
    macs = (spec["k"] * flops.forward_macs(model.decoder, (model.latent_dim,))
            + flops.forward_macs(model.encoder, model.data_shape))
    square = np.random.default_rng(0).standard_normal((2048, 2048)).astype("float32")
    peak = timing.matmul_gflops(square)
    gflops = 2 * macs * rate / 1e9
    return dict(rate=rate, macs_per_image=macs, gflops=gflops, peak_gflops=peak,
                share=gflops / peak, warm_up_seconds=warm_up)


def markdown(rows, k):
    lines = ["| backend | images/s | s per 1,000 images | GMAC per image | GFLOP/s | matmul peak "
             "(GFLOP/s) | share of peak |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['backend']} | failed: {r['error']} | | | | | |")
            continue
        lines.append(f"| {r['backend']} | {r['rate']:.1f} | {1000 / r['rate']:.0f} "
                     f"| {r['macs_per_image'] / 1e9:.2f} | {r['gflops']:.1f} "
                     f"| {r['peak_gflops']:.1f} | {r['share']:.0%} |")
    lines += ["", f"k = {k} importance samples per image; a multiply-add is 2 FLOPs; the peak is "
              "NumPy's float32 2048 × 2048 matmul in the same process."]
    return "\n".join(lines) + "\n"


def main(argv):
    del argv
    if FLAGS.worker:
        print(json.dumps(work(json.loads(FLAGS.worker))))
        return
    rows = []
    for backend in FLAGS.backends:
        result = timing.in_process(__file__, backend, dict(
            data=FLAGS.data, k=FLAGS.k, images=FLAGS.images, draws_per_call=FLAGS.draws_per_call,
            repeats=FLAGS.repeats))
        rows.append(dict(backend=backend, **result))
        print(json.dumps(rows[-1]), flush=True)
    table = markdown(rows, FLAGS.k)
    print(table)
    if FLAGS.out:
        timing.write_report(FLAGS.out, "log p(x): speed of the importance-weighted estimate",
                            __file__, table, dict(k=FLAGS.k, rows=rows))


if __name__ == "__main__":
    app.run(main)
