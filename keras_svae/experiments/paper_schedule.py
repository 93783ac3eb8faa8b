"""The paper's own schedule for all 18 models of Tables 1-4, on one accelerator, in minutes.

Section 5 trains nine sigma-VAEs and nine alpha-VAEs (scales 0.1 ... 0.9)
for 100 epochs at batch 16 with Adam 1e-4: 6.75 million steps one model at a
time. Here the 18 are one `SigmaVAEFamily` (Gaussian and Laplace members
side by side), so a step runs all 18 at once. Designed for a GPU lent for
minutes:

1. `probe`: steps per second of a 1-member and the 18-member family, and the
   projected wall time of the whole schedule;
2. `run`: the family trained under a time limit, every member's run folder
   updated every epoch (`family_training`), so a second call resumes;
3. the two reports, scaling_{gaussian,laplace}_paper.{md,json,png}, which
   name the device and say how many epochs were actually done.
"""

import json
import math
import time

import keras

from keras_svae import data
from keras_svae import family_training
from keras_svae import training
from keras_svae.experiments import paper
from keras_svae.experiments import runs
from keras_svae.experiments import scaling_laws



def members(scales=paper.SCALES):
    """The (model, scale) pairs: a sigma-VAE and an alpha-VAE per scale (18 for the paper's)."""
    return [(training.model_of(noise), float(s)) for noise in scaling_laws.NOISES
            for s in scales]


def device_name():
    """The accelerator Keras's backend computes on (or "CPU"), in words."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return device.device_kind if device.platform != "cpu" else "CPU"
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    return "CPU"


def _steps_per_second(configs, steps):
    """Optimizer steps per second of a family of `configs` (after a compiling warm-up)."""
    config = configs[0]
    model = family_training.build(configs)
    jit_compile, steps_per_execution = training.compile_settings(config)
    steps_per_execution = min(steps_per_execution, steps)
    model.compile(keras.optimizers.Adam(config.learning_rate), jit_compile=jit_compile,
                  steps_per_execution=steps_per_execution)
    images = data.load_mnist("train", path=config.data)[0][: config.batch_size * steps]
    dataset = data.make_dataset(images, config.batch_size, seed=0).repeat()
    warm_up = 2 * steps_per_execution  # Compiles, then runs compiled.
    model.fit(dataset, steps_per_epoch=warm_up, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps / (time.perf_counter() - start)


def probe(schedule="paper", steps=200, scales=paper.SCALES, **overrides):
    """Steps per second of 1 and all 2 * len(scales) members, and the projected time.

    Returns a dict: "device", "steps_per_second" {1: ..., 18: ...},
    "steps" (of the whole schedule, per member), "projected_hours" (all 18 as
    one family) and "projected_hours_sequential" (18 single models).
    """
    configs = [runs.config_for(model, s, schedule, **overrides) for model, s in members(scales)]
    config = configs[0]
    train_size = config.train_size or 60000
    total = config.epochs * math.ceil(train_size / config.batch_size)
    rates = {1: _steps_per_second(configs[:1], steps),
             len(configs): _steps_per_second(configs, steps)}
    return dict(device=device_name(), backend=keras.backend.backend(), members=len(configs),
                batch_size=config.batch_size, steps_per_second=rates, steps=total,
                projected_hours=total / rates[len(configs)] / 3600,
                projected_hours_sequential=len(configs) * total / rates[1] / 3600)


def run(root, report_dir, schedule="paper", time_limit=None, scales=paper.SCALES, **overrides):
    """Trains (or resumes) the 2 * len(scales) members as one family; writes both reports.

    Returns {"gaussian": table, "laplace": table} (the markdown tables).
    """
    models, pairs = runs.TrainedModels(root, schedule, **overrides), members(scales)
    trained = dict(zip(pairs, models.train_family(pairs, time_limit=time_limit)))
    tables = {}
    for noise in scaling_laws.NOISES:
        model = training.model_of(noise)
        results = [trained[model, float(s)] for s in scales]
        summary = scaling_laws.summarize(noise, [float(s) for s in scales],
                                         [r.metrics for r in results],
                                         wall_seconds=[r.wall_seconds for r in results])
        summary["schedule"] = scaling_laws.schedule_record(
            schedule, models.config(model, scales[0]), results,
            trained_as=f"as one family of {len(pairs)} members", device=device_name())
        tables[noise] = scaling_laws.write_report(
            summary, f"{report_dir}/scaling_{noise}_{schedule}")
    return tables


def write_probe(result, path):
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
