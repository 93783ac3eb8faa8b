r"""Training and inference speed of keras_svae, beside plain PyTorch and the matmul peak.

    python benchmarks/speed.py --out=docs/benchmarks.md

Every measurement runs in a process of its own (one backend, one model, one
batch size), so that each peak memory figure is that run's and no backend's
threads or caches disturb another's; the processes run one after the other
and all belong to this one invocation, so the ratios between them are fair.
What is measured:

* the matmul peak: float32 2048 x 2048 products in PyTorch and NumPy, the
  better of the two, GFLOP/s;
* plain PyTorch (benchmarks/plain_torch.py): the sigma-VAE's network and loss
  by hand, eager, one fixed batch, no input pipeline: the yardstick;
* training: `model.fit` on real MNIST training images through
  `data.make_dataset`, images/s (the best of --repeats timed epochs after a
  warm-up that compiles), for the sigma-VAE (strides 2 and 1) and DEEN, at
  each batch size, with the package's settings (`training.FASTEST`) and with
  Keras's defaults (jit_compile="auto", steps_per_execution=1);
* inference at batch 1,000: the classifier alone, and behind a sigma-VAE
  draw x_hat(z), z ~ q(z|y), or DEEN's x_hat(y), eager calls against one
  compiled Keras `predict_on_batch`;
* where DEEN's JAX step spends its time: forward, input gradient and the
  double backprop of the energy network, with direct and patch convolutions.

FLOPs per image come from the networks' shapes (benchmarks/flops.py).
"""

import json
import os
import resource
import subprocess
import sys
import time

from absl import app
from absl import flags

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import timing  # noqa: E402  (benchmarks/timing.py)

REPO = os.path.dirname(HERE)
BACKENDS = ("tensorflow", "jax", "torch")

flags.DEFINE_list("backends", list(BACKENDS), "Backends to measure.")
flags.DEFINE_list("batch_sizes", ["16", "128"], "Training batch sizes.")
flags.DEFINE_integer("repeats", 3, "Timed epochs per measurement; the best counts.")
flags.DEFINE_float("seconds", 4.0, "About how long one timed epoch should take.")
flags.DEFINE_string("data", None, "Keras-layout mnist.npz (default $KERAS_SVAE_MNIST, then "
                    "../shared/data/mnist.npz).")
flags.DEFINE_string("out", None, "Write the report (markdown) here; stdout only if unset.")
flags.DEFINE_bool("stride1", True, "Also measure the stride-1 ('no_downsampling') sigma-VAE.")
flags.DEFINE_string("results", None, "Render the report from these saved results "
                    "(the .json beside an earlier --out) instead of measuring.")
flags.DEFINE_string("worker", None, "Internal: one measurement, as JSON.")
FLAGS = flags.FLAGS


# ---------------------------------------------------------------------------------------------
# Workers: each runs in its own process and prints one JSON line.


def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _mnist(path, split="train"):
    from keras_svae import data

    return data.load_mnist(split, path=path)


def work_reference(spec):
    """Plain PyTorch training and the matmul peak."""
    import numpy as np
    import torch

    import plain_torch

    rates = {}
    for strides in spec["strides"]:
        for batch in spec["batch_sizes"]:
            steps = max(10, int(spec["images"][str(strides)] // batch))
            rates[f"{strides}/{batch}"] = plain_torch.images_per_second(
                batch, steps, strides=strides, repeats=spec["repeats"])
    size = 2048
    peaks = {"torch": timing.matmul_gflops(torch.rand(size, size)),
             "numpy": timing.matmul_gflops(
                 np.random.default_rng(0).random((size, size), dtype=np.float32))}
    return dict(rates=rates, peaks=peaks, threads=torch.get_num_threads(),
                torch=torch.__version__)


def work_train(spec):
    """`model.fit` images/s of one model at one batch size and one set of settings."""
    import keras

    from keras_svae import data, networks, training

    config = training.TrainConfig(model=spec["model"], sigma=0.9, strides=spec["strides"],
                                  batch_size=spec["batch"], jit_compile=spec["jit_compile"],
                                  steps_per_execution=spec["steps_per_execution"])
    jit_compile, steps_per_execution = training.compile_settings(config)
    if spec["jit_compile"] == "auto":  # Keras as it comes: its own Conv2D too.
        networks.resolve_convolution = lambda convolution, double_backprop=False: "direct"
    images = _mnist(spec["data"])[0][: spec["images"]]
    keras.utils.set_random_seed(0)
    model = training.build_model(config)
    model.compile(keras.optimizers.Adam(1e-4), jit_compile=jit_compile,
                  steps_per_execution=steps_per_execution)
    dataset = data.make_dataset(images, spec["batch"], seed=0)
    rate, compile_seconds = timing.fit_rate(model, dataset, len(images), spec["repeats"],
                                            steps_per_execution)
    return dict(rate=rate, compile_seconds=compile_seconds, memory_mib=_peak_rss_mib(),
                jit_compile=str(model.jit_compile), steps_per_execution=steps_per_execution)


def work_inference(spec):
    """Images/s at batch 1,000 through front-end + classifier, eager and compiled."""
    import keras
    import numpy as np

    from keras_svae import DEEN, sigma_vae
    from keras_svae.experiments import certification
    from keras_svae.experiments import classifier as classifiers

    keras.utils.set_random_seed(0)
    classifier = classifiers.convnet()
    fronts = {"classifier alone": ("identity", None),
              "sigma-VAE + classifier": ("vae_sample", sigma_vae(0.7, seed=0)),
              "DEEN + classifier": ("deen", DEEN(0.7, seed=0))}
    y = np.random.default_rng(0).normal(0.5, 0.7, size=(spec["batch"], 28, 28, 1))
    y = y.astype("float32")
    rates = {}
    for name, (front_name, model) in fronts.items():
        eager = certification.base_classifier(certification.front_end(front_name, model),
                                              classifier)
        compiled = certification.compiled_base_classifier(front_name, model, classifier)
        for kind, fn in (("eager", eager), ("compiled", compiled)):
            keras.ops.convert_to_numpy(fn(y))  # Warm-up (and compile).
            rates[f"{name}/{kind}"] = timing.best_rate(
                lambda fn=fn: keras.ops.convert_to_numpy(fn(y)), len(y), 2 * spec["repeats"])
    return dict(rates=rates, memory_mib=_peak_rss_mib())


def work_deen_profile(spec):
    """JAX: ms per batch of the energy network's pieces, direct vs patch convolutions."""
    import jax
    import jax.numpy as jnp
    import keras
    import numpy as np

    from keras_svae import networks

    y = jnp.asarray(np.random.default_rng(0).normal(size=(spec["batch"], 28, 28, 1)), "float32")
    times = {}
    for convolution in ("direct", "patches"):
        energy = networks.EnergyNetwork(convolution=convolution)
        energy.build(y.shape)
        weights = [v.value for v in energy.trainable_variables]

        def f(w, y):
            return energy.stateless_call(w, [], y)[0]

        def x_hat(w, y):
            return y - 0.81 * jax.grad(lambda y: jnp.sum(f(w, y)))(y)

        pieces = {
            "forward": jax.jit(f),
            "input gradient": jax.jit(x_hat),
            "weight gradient of f": jax.jit(jax.grad(lambda w, y: jnp.sum(f(w, y)))),
            "DEEN step (double backprop)": jax.jit(
                jax.grad(lambda w, y: jnp.sum(jnp.square(x_hat(w, y) - y)))),
        }
        for name, fn in pieces.items():
            jax.block_until_ready(fn(weights, y))
            rate = max(timing.best_rate(lambda fn=fn: jax.block_until_ready(fn(weights, y)), 1, 1)
                       for _ in range(5))
            times[f"{name}/{convolution}"] = 1e3 / rate
    return dict(ms=times)


def work_vae_profile(spec):
    """JAX: one sigma-VAE training step's parts at one batch size, ms and GFLOP/s."""
    import jax
    import jax.numpy as jnp
    import keras
    import numpy as np

    from keras_svae import sigma_vae

    import flops

    model = sigma_vae(0.9, seed=0)
    convs = model.encoder.features.convs
    dense = [model.encoder.features.dense, model.encoder.mean, model.decoder.hidden,
             model.decoder.readout]
    batch = spec["batch"]
    x = jnp.asarray(np.random.default_rng(0).random((batch, 28, 28, 1)), "float32")
    h = jnp.asarray(np.random.default_rng(1).random((batch, 2048)), "float32")

    def chain(layers):
        def loss(weights, inputs):
            for layer, w in zip(layers, weights):
                inputs = layer.stateless_call(w, [], inputs)[0]
                if inputs.ndim == 4 and layer is layers[-1]:
                    inputs = inputs.reshape(batch, -1)
            return jnp.sum(jnp.square(inputs))
        return loss

    # The dense chain: fc (2048 -> 200), one head (200 -> 100), decoder (100 -> 2000 -> 784);
    # the second head costs the same as the first (counted in the whole step only).
    parts = {"convolutions": (convs, x), "dense layers": (dense, h)}
    out = {}
    for name, (layers, inputs) in parts.items():
        weights = [[v.value for v in layer.trainable_variables] for layer in layers]
        step = jax.jit(jax.grad(chain(layers)))
        jax.block_until_ready(step(weights, inputs))
        seconds = 1 / max(timing.best_rate(lambda: jax.block_until_ready(step(weights, inputs)), 1, 1)
                          for _ in range(10))
        out[name] = dict(ms=1e3 * seconds)
    out["batch"] = batch
    out["macs"] = dict(
        convolutions=sum(flops.forward_macs(c, s) for c, s in zip(
            convs, ((28, 28, 1), (14, 14, 32), (7, 7, 64)))),
        dense=sum(layer.kernel.shape[0] * layer.kernel.shape[1] for layer in dense))
    return out


def work_torch_overhead(spec):
    """PyTorch, batch 16: ms per step of Keras's train step and of its Adam update alone."""
    import keras
    import numpy as np
    import torch

    from keras_svae import data, sigma_vae

    import plain_torch

    images = data.load_mnist("train", path=spec["data"])[0][: 16 * spec["steps"]]
    model = sigma_vae(0.9, seed=0)
    model.compile(keras.optimizers.Adam(1e-4))
    batches = [images[i : i + 16] for i in range(0, len(images), 16)]
    model.train_on_batch(batches[0])

    def keras_steps():
        for batch in batches:
            model.train_on_batch(batch)

    weights = model.trainable_variables
    gradients = [torch.ones_like(w.value) * 1e-3 for w in weights]
    parameters = [torch.nn.Parameter(w.value.detach().clone()) for w in weights]
    for p, g in zip(parameters, gradients):
        p.grad = g
    torch_adam = torch.optim.Adam(parameters, lr=1e-4)
    steps = len(batches)
    ms = lambda run: 1e3 / max(timing.best_rate(run, steps, 1) for _ in range(spec["repeats"]))
    return dict(ms={
        "Keras train step (train_on_batch)": ms(keras_steps),
        "plain PyTorch train step": 16e3 / plain_torch.images_per_second(16, steps, repeats=2),
        "Keras Adam update alone": ms(lambda: [model.optimizer.apply(gradients, weights)
                                               for _ in range(steps)]),
        "torch.optim.Adam update alone": ms(lambda: [torch_adam.step() for _ in range(steps)]),
    }, parameters=int(sum(np.prod(w.shape) for w in weights)))


def work_flops(spec):
    """Forward multiply-adds per image of every network measured here."""
    from keras_svae import DEEN, sigma_vae
    from keras_svae.experiments import classifier

    import flops

    shape = (28, 28, 1)
    return dict(macs={
        "sigma_vae/2": flops.forward_macs(sigma_vae(0.9, strides=2), shape),
        "sigma_vae/1": flops.forward_macs(sigma_vae(0.9, strides=1), shape),
        "deen/2": flops.forward_macs(DEEN(0.9).energy_network, shape),
        "classifier": flops.forward_macs(classifier.convnet(), shape),
    })


WORKERS = dict(reference=work_reference, train=work_train, inference=work_inference,
               deen_profile=work_deen_profile, vae_profile=work_vae_profile,
               torch_overhead=work_torch_overhead,
               flops=work_flops)


# ---------------------------------------------------------------------------------------------
# The parent: runs the workers and writes the report.


def run_worker(kind, backend="torch", **spec):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    spec = dict(spec, kind=kind)
    command = [sys.executable, os.path.abspath(__file__), f"--worker={json.dumps(spec)}"]
    print(f"[{time.strftime('%H:%M:%S')}] {backend:10s} {kind} {spec}", file=sys.stderr,
          flush=True)
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise RuntimeError(f"{kind} on {backend} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def default_data():
    if os.environ.get("KERAS_SVAE_MNIST"):
        return os.environ["KERAS_SVAE_MNIST"]
    return os.path.join(REPO, "..", "shared", "data", "mnist.npz")


def measure(data):
    batches = [int(b) for b in FLAGS.batch_sizes]
    strides = [2, 1] if FLAGS.stride1 else [2]
    repeats = FLAGS.repeats
    # Timed epochs of about --seconds at the rates seen on the development machine.
    images = {"2": int(FLAGS.seconds * 2500), "1": int(FLAGS.seconds * 150)}
    results = dict(flops=run_worker("flops"))
    results["reference"] = run_worker("reference", strides=strides, batch_sizes=batches,
                                      repeats=repeats, images=images)
    results["train"] = {}
    from keras_svae import training  # noqa: E402  (after the workers' flags are parsed)

    keras_auto = dict(tensorflow=False, jax=True, torch=False)  # "auto" on a CPU.
    runs = [("sigma_vae", 2), ("deen", 2)] + ([("sigma_vae", 1)] if FLAGS.stride1 else [])
    for backend in FLAGS.backends:
        for model, stride in runs:
            for batch in batches:
                settings = [("fastest", 0)]
                table = training.FASTEST_DEEN if model == "deen" else training.FASTEST
                plain_keras = dict(jit_compile=keras_auto[backend], steps_per_execution=1)
                patches = backend == "jax" and model == "deen"
                if stride == 2 and (table[backend] != plain_keras or patches):
                    settings.append(("auto", 1))  # Keras's defaults, for comparison.
                for jit_compile, steps in settings:
                    key = f"{backend}/{model}/{stride}/{batch}/{jit_compile}"
                    count = images[str(stride)] // (2 if model == "deen" else 1)
                    if stride == 2:  # At least 2 executions of TensorFlow's 100-step loop.
                        count = max(count, 200 * batch)
                    count = max(count - count % batch, 4 * batch)
                    results["train"][key] = run_worker(
                        "train", backend, model=model, strides=stride, batch=batch,
                        jit_compile=jit_compile, steps_per_execution=steps, data=data,
                        images=count, repeats=repeats)
    results["inference"] = {b: run_worker("inference", b, batch=1000, repeats=repeats)
                            for b in FLAGS.backends}
    if "torch" in FLAGS.backends:
        results["torch_overhead"] = run_worker("torch_overhead", "torch", data=data, steps=100,
                                               repeats=repeats)
    if "jax" in FLAGS.backends:
        results["deen_profile"] = run_worker("deen_profile", "jax", batch=128)
        results["vae_profile"] = run_worker("vae_profile", "jax", batch=int(batches[-1]))
    return results


def main(argv):
    del argv
    if FLAGS.worker:
        spec = json.loads(FLAGS.worker)
        print(json.dumps(WORKERS[spec["kind"]](spec)))
        return
    import speed_report

    if FLAGS.results:
        with open(FLAGS.results) as f:
            results = json.load(f)
    else:
        start = time.perf_counter()
        results = measure(FLAGS.data or default_data())
        results["minutes"] = (time.perf_counter() - start) / 60
        results["command"] = " ".join(["python", "benchmarks/speed.py"] + [
            a for a in sys.argv[1:] if not a.startswith("--out")])
        if FLAGS.out:  # Saved first: a failing report loses no measurement.
            with open(os.path.splitext(FLAGS.out)[0] + ".json", "w") as f:
                json.dump(results, f, indent=1)
    report = speed_report.markdown(results, results["command"])
    print(report)
    if FLAGS.out:
        with open(FLAGS.out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    app.run(main)
