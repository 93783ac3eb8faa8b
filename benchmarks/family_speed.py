r"""A family of K sigma-VAEs trained as one model against K models one after another.

    python benchmarks/family_speed.py --out=docs/family_speed.md

For each backend and batch size, `model.fit` on real MNIST images (through
`data.make_dataset`, the package's compile settings) for:

* one `SigmaVAE` (the sequential sweep trains K of these in turn), and
* a `SigmaVAEFamily` of K members (sigma = 0.1 ... 0.9 for K = 9), a
  container of K `SigmaVAE`s, on TensorFlow with XLA on and off, and
* with --baseline=<a source tree of an earlier version>, that version's
  family in the same run (the family with a member axis in every weight that
  the container replaced: `git archive 73487f4 | tar -x -C <dir>`).

It prints images per second *per member* (member-images trained per second
of wall time) and the speed-up over the single model, the quantity that sets
a sweep's wall time: a sweep of K models of S steps takes K * S / rate_single
one after another and S / rate_family as a family. Each measurement runs in
a process of its own, one after the other within this one invocation.
"""

import json
import os
import sys

from absl import app
from absl import flags

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import timing  # noqa: E402

flags.DEFINE_string("data", None, "mnist.npz (default: $KERAS_SVAE_MNIST, then tfds).")
flags.DEFINE_list("backends", ["tensorflow", "jax", "torch"], "Backends to measure.")
flags.DEFINE_list("batch_sizes", ["16", "128"], "Batch sizes.")
flags.DEFINE_integer("members", 9, "K, the family's size.")
flags.DEFINE_integer("images", 1024, "Training images per timed epoch.")
flags.DEFINE_integer("repeats", 2, "Timed epochs; the best is kept.")
flags.DEFINE_string("out", None, "Write the markdown table here (and the JSON beside it).")
flags.DEFINE_string("baseline", None, "A source tree of an earlier keras_svae whose family is "
                    "measured beside (its stacked-weight family, convolution='per_member').")
flags.DEFINE_string("worker", None, "Internal: run one measurement (a JSON spec).")
FLAGS = flags.FLAGS


def work(spec):
    """Per-member images/s of one model (single or family) at one batch size."""
    import keras

    from keras_svae import data, family, training, vae

    images = data.load_mnist("train", path=spec["data"])[0][: spec["images"]]
    config = training.TrainConfig(batch_size=spec["batch"], jit_compile=spec["jit_compile"])
    jit_compile, steps_per_execution = training.compile_settings(config)
    keras.utils.set_random_seed(0)
    if spec["kind"] == "single":
        model, members = vae.sigma_vae(0.9, seed=0), 1
    else:
        scales = [round(0.1 * (k + 1), 1) for k in range(spec["members"])]
        extra = {"convolution": spec["convolution"]} if "convolution" in spec else {}
        model = family.SigmaVAEFamily([dict(scale=s, seed=0) for s in scales], **extra)
        members = len(scales)
    model.compile(keras.optimizers.Adam(1e-4), jit_compile=jit_compile,
                  steps_per_execution=steps_per_execution)
    dataset = data.make_dataset(images, spec["batch"], seed=0)
    rate, compile_seconds = timing.fit_rate(model, dataset, members * len(images),
                                            spec["repeats"], steps_per_execution)
    return dict(rate=rate, compile_seconds=compile_seconds, jit_compile=str(jit_compile),
                steps_per_execution=steps_per_execution, package=os.path.dirname(family.__file__))


def variants(backend):
    """(label, spec) of what to measure on `backend`."""
    yield "single model", dict(kind="single", jit_compile="fastest")
    yield "family", dict(kind="family", jit_compile="fastest")
    if backend == "tensorflow":
        yield "family, no XLA", dict(kind="family", jit_compile="false")
    if FLAGS.baseline:
        yield "family, stacked weights (baseline)", dict(
            kind="family", jit_compile="fastest", convolution="per_member", tree=FLAGS.baseline)


def measure():
    rows = []
    for backend in FLAGS.backends:
        for batch in (int(b) for b in FLAGS.batch_sizes):
            for label, spec in variants(backend):
                tree = spec.pop("tree", None)
                result = timing.in_process(__file__, backend, dict(
                    spec, data=FLAGS.data, images=FLAGS.images, repeats=FLAGS.repeats,
                    members=FLAGS.members, batch=batch), pythonpath=tree)
                result["images"] = FLAGS.images
                rows.append(dict(backend=backend, batch=batch, variant=label, **result))
                print(json.dumps(rows[-1]), flush=True)
    return rows


def markdown(rows, members):
    lines = ["| backend | batch | model | images/s per member | vs single | XLA / jit "
             "| steps per call | compile (s) |",
             "|---|---|---|---|---|---|---|---|"]
    single = {(r["backend"], r["batch"]): r.get("rate") for r in rows
              if r["variant"] == "single model"}
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['backend']} | {r['batch']} | {r['variant']} | failed: "
                         f"{r['error']} | | | | |")
            continue
        ratio = r["rate"] / single[r["backend"], r["batch"]]
        lines.append(f"| {r['backend']} | {r['batch']} | {r['variant']} | {r['rate']:,.0f} "
                     f"| {ratio:.2f}× | {r['jit_compile']} | {r['steps_per_execution']} "
                     f"| {r['compile_seconds']:.0f} |")
    lines += ["", f"K = {members} members (σ = 0.1 … {0.1 * members:.1f}); 'vs single': the "
              "family's per-member rate over one SigmaVAE's rate in the same run, which is the "
              "speed-up of a sweep trained as a family over the same sweep one model after "
              "another."]
    return "\n".join(lines) + "\n"


def main(argv):
    del argv
    if FLAGS.worker:
        print(json.dumps(work(json.loads(FLAGS.worker))))
        return
    rows = measure()
    table = markdown(rows, FLAGS.members)
    print(table)
    if FLAGS.out:
        timing.write_report(FLAGS.out, "A family of σ-VAEs against one model at a time",
                            __file__, table, dict(members=FLAGS.members, rows=rows))


if __name__ == "__main__":
    app.run(main)
