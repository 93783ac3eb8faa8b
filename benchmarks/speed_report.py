"""The markdown report of benchmarks/speed.py, from its measurements."""

import os
import platform
import re

SWEEP_WALL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "sweep_speed",
                          "wall.txt")

NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
TRAIN_PASSES = {"sigma_vae": 3, "deen": 6}  # Forward passes per training image (flops.py).


def _peak(results):
    return max(results["reference"]["peaks"].values())


def _train_flop(results, model, stride):
    macs = results["flops"]["macs"]["deen/2" if model == "deen" else f"sigma_vae/{stride}"]
    return 2 * TRAIN_PASSES[model] * macs


def _cell(results, backend, model, stride, batch, setting="fastest"):
    return results["train"].get(f"{backend}/{model}/{stride}/{batch}/{setting}")


def training_table(results, backends, batches):
    peak = _peak(results)
    rows = ["| model | batch | plain PyTorch | " + " | ".join(
        f"{NAMES[b]} (Keras defaults → ours)" for b in backends) + " |",
        "| --- | --- | --- |" + " --- |" * len(backends)]
    for model, stride in (("sigma_vae", 2), ("deen", 2), ("sigma_vae", 1)):
        for batch in batches:
            if _cell(results, backends[0], model, stride, batch) is None:
                continue
            reference = results["reference"]["rates"].get(f"{stride}/{batch}")
            flop = _train_flop(results, model, stride)
            cells = []
            for backend in backends:
                ours = _cell(results, backend, model, stride, batch)
                keras_default = _cell(results, backend, model, stride, batch, "auto")
                text = f"**{ours['rate']:,.0f}** ({100 * ours['rate'] * flop / 1e9 / peak:.0f}%)"
                if keras_default:
                    text = f"{keras_default['rate']:,.0f} → " + text
                elif stride == 2:
                    text = "= " + text  # Keras's defaults are the package's here.
                cells.append(text)
            ref = (f"{reference:,.0f} ({100 * reference * flop / 1e9 / peak:.0f}%)"
                   if reference and model == "sigma_vae" else "–")
            name = {"sigma_vae": f"σ-VAE, stride {stride}", "deen": "DEEN, stride 2"}[model]
            rows.append(f"| {name} | {batch} | {ref} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def settings_table(results, backends, batches):
    small, large = batches[0], batches[-1]
    rows = [f"| backend | jit_compile: σ-VAE batch {small} / {large}, DEEN | steps_per_execution | "
            f"compile + first steps (s), σ-VAE batch {large} | peak memory (MiB), σ-VAE / DEEN "
            f"batch {large} |", "| --- | --- | --- | --- | --- |"]
    for backend in backends:
        vae_small = _cell(results, backend, "sigma_vae", 2, small)
        vae = _cell(results, backend, "sigma_vae", 2, large)
        deen = _cell(results, backend, "deen", 2, large)
        rows.append(f"| {NAMES[backend]} | {vae_small['jit_compile']} / {vae['jit_compile']}, "
                    f"{deen['jit_compile']} | {vae['steps_per_execution']} "
                    f"| {vae['compile_seconds']:.1f} | {vae['memory_mib']:,.0f} / "
                    f"{deen['memory_mib']:,.0f} |")
    return "\n".join(rows)


def inference_table(results, backends):
    macs = results["flops"]["macs"]
    flop = {"classifier alone": 2 * macs["classifier"],
            "sigma-VAE + classifier": 2 * (macs["sigma_vae/2"] + macs["classifier"]),
            # x_hat(y): the energy's forward and its input gradient (2 passes).
            "DEEN + classifier": 2 * (2 * macs["deen/2"] + macs["classifier"])}
    peak = _peak(results)
    rows = ["| pipeline (batch 1,000) | MFLOP/image | " + " | ".join(
        f"{NAMES[b]} eager → compiled" for b in backends) + " |",
        "| --- | --- |" + " --- |" * len(backends)]
    for name, f in flop.items():
        cells = []
        for backend in backends:
            rates = results["inference"][backend]["rates"]
            eager, compiled = rates[f"{name}/eager"], rates[f"{name}/compiled"]
            cells.append(f"{eager:,.0f} → **{compiled:,.0f}** "
                         f"({100 * compiled * f / 1e9 / peak:.0f}%)")
        rows.append(f"| {name} | {f / 1e6:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def profile_table(results):
    ms = results["deen_profile"]["ms"]
    pieces = dict.fromkeys(key.split("/")[0] for key in ms)
    rows = ["| JAX, energy network, batch 128 | direct convolutions (ms) | patch convolutions (ms) |",
            "| --- | --- | --- |"]
    for piece in pieces:
        rows.append(f"| {piece} | {ms[piece + '/direct']:.1f} | {ms[piece + '/patches']:.1f} |")
    return "\n".join(rows)


def vae_profile_table(results, peak):
    profile = results["vae_profile"]
    rows = ["| JAX, σ-VAE step part, batch " + str(profile.get("batch", "")) +
            " | MFLOP/image (3 passes) | ms | GFLOP/s | % of peak |", "| --- | --- | --- | --- | --- |"]
    for name, key in (("convolutions", "convolutions"), ("dense layers", "dense")):
        flop = 6 * profile["macs"][key]
        rate = flop * profile["batch"] / (profile[name]["ms"] / 1e3) / 1e9
        rows.append(f"| {name} | {flop / 1e6:.1f} | {profile[name]['ms']:.1f} | {rate:.0f} | "
                    f"{100 * rate / peak:.0f}% |")
    return "\n".join(rows)


def torch_overhead_table(results):
    overhead = results["torch_overhead"]
    rows = [f"| PyTorch backend, σ-VAE, batch 16 ({overhead['parameters']:,} weights) | ms per step |",
            "| --- | --- |"]
    rows += [f"| {name} | {ms:.1f} |" for name, ms in overhead["ms"].items()]
    return "\n".join(rows)


def _sweep_row():
    """Goal 4 from docs/sweep_speed/wall.txt (a separate run: docs/sweep_speed.md)."""
    if not os.path.exists(SWEEP_WALL):
        return "| 4. the 9-σ `cpu` sweep ≤ 15 min | not measured | | |"
    with open(SWEEP_WALL) as f:
        seconds = int(re.search(r"wall_seconds=(\d+)", f.read()).group(1))
    return (f"| 4. the 9-σ `cpu` sweep ≤ 15 min | {seconds} s = {seconds / 60:.1f} min "
            f"([sweep_speed.md](sweep_speed.md), its own run) | about 50 min before | "
            f"{'met' if seconds <= 900 else '**missed**'} |")


def goals_table(results, backends, batches):
    peak = _peak(results)
    reference16 = results["reference"]["rates"]["2/16"]
    small, large = batches[0], batches[-1]
    rate16 = {b: _cell(results, b, "sigma_vae", 2, small)["rate"] for b in backends}
    best16 = max(rate16, key=rate16.get)
    rate128 = {b: _cell(results, b, "sigma_vae", 2, large)["rate"] for b in backends}
    best128 = max(rate128, key=rate128.get)
    flop = _train_flop(results, "sigma_vae", 2)
    ratios = {b: _cell(results, b, "deen", 2, large)["rate"] / rate128[b] for b in backends}
    inference = {}
    macs = results["flops"]["macs"]
    for b in backends:
        rates = results["inference"][b]["rates"]
        inference[b] = rates["sigma-VAE + classifier/compiled"] * 2 * (
            macs["sigma_vae/2"] + macs["classifier"]) / 1e9 / peak
    best_inf = max(inference, key=inference.get)

    def verdict(ok):
        return "met" if ok else "**missed**"

    worst16 = min(rate16, key=rate16.get)
    rows = [
        "| goal | figure | reference | |",
        "| --- | --- | --- | --- |",
        f"| 1. batch {small}: best backend ≥ 2.5× plain PyTorch | {NAMES[best16]} "
        f"{rate16[best16]:,.0f} images/s = {rate16[best16] / reference16:.2f}× | plain PyTorch "
        f"{reference16:,.0f} | {verdict(rate16[best16] >= 2.5 * reference16)} |",
        f"| 1. batch {small}: every backend ≥ 1× | slowest: {NAMES[worst16]} "
        f"{rate16[worst16] / reference16:.2f}× | | {verdict(rate16[worst16] >= reference16)} |",
        f"| 2. batch {large}: best backend ≥ 70% of peak | {NAMES[best128]} "
        f"{rate128[best128] * flop / 1e9:.0f} GFLOP/s = "
        f"{100 * rate128[best128] * flop / 1e9 / peak:.0f}% | peak {peak:.0f} GFLOP/s | "
        f"{verdict(rate128[best128] * flop / 1e9 >= 0.7 * peak)} |",
        "| 3. DEEN ≥ 0.67× σ-VAE, every backend | " + ", ".join(
            f"{NAMES[b]} {ratios[b]:.2f}" for b in backends) + f" | batch {large} | "
        f"{verdict(min(ratios.values()) >= 0.67)} |",
        _sweep_row(),
        f"| 5. inference ≥ 60% of peak | σ-VAE + classifier, {NAMES[best_inf]}: "
        f"{100 * inference[best_inf]:.0f}% | peak {peak:.0f} GFLOP/s | "
        f"{verdict(inference[best_inf] >= 0.6)} |",
    ]
    return "\n".join(rows)


def batch16_text(results, backends, batches):
    small = batches[0]
    rates = {b: _cell(results, b, "sigma_vae", 2, small)["rate"] for b in backends}
    best = max(rates, key=rates.get)
    step_ms = 1e3 * small / rates[best]
    arithmetic_ms = 1e3 * small * _train_flop(results, "sigma_vae", 2) / 1e9 / _peak(results)
    return (f"The fastest backend here, {NAMES[best]}, takes {step_ms:.1f} ms per step of "
            f"{small} images, whose arithmetic at the matmul peak would take "
            f"{arithmetic_ms:.1f} ms: at the paper's batch the step is bound by what happens "
            "around the arithmetic, not by it. Keras 3.15's JAX trainer makes one jitted call "
            "per step from a host loop and converts each tf.data batch to a device array; "
            "TensorFlow runs 100 steps per call in one graph loop but its per-op dispatch "
            "inside the loop remains. Going further would take several steps inside one "
            "compiled call on JAX (a `lax.scan` over batches, which Keras's trainer does not "
            "do), or more images per step: the model family of issue 13, which trains several "
            "models in each step.")


def markdown(results, command):
    backends = [b for b in NAMES if any(k.startswith(b + "/") for k in results["train"])]
    batches = sorted({int(k.split("/")[3]) for k in results["train"]})
    macs = results["flops"]["macs"]
    peaks = results["reference"]["peaks"]
    return f"""# Speed: training and inference per backend

Generated by this command (it took {results['minutes']:.0f} minutes) on the 2-core development CPU
({platform.processor() or platform.machine()}), nothing else running; the raw figures are in
`docs/benchmarks.json`. Every figure below comes from this one run: compare within it, since
absolute times on this machine move by 10–25% from run to run.

```bash
{command} --out=docs/benchmarks.md
```

Matmul peak measured in the same run (float32 2048 × 2048): PyTorch {peaks['torch']:.0f},
NumPy {peaks['numpy']:.0f} GFLOP/s; percentages below are of the better, {_peak(results):.0f}.
FLOPs per image from the networks' shapes (`benchmarks/flops.py`, multiply-adds of the
convolutions and matmuls × 2): forward σ-VAE {2 * macs['sigma_vae/2'] / 1e6:.1f} MFLOP (stride 2),
{2 * macs['sigma_vae/1'] / 1e6:.0f} MFLOP (stride 1); DEEN's energy network
{2 * macs['deen/2'] / 1e6:.1f}; the classifier {2 * macs['classifier'] / 1e6:.1f}. A σ-VAE
training image costs 3 forward passes, a DEEN one 6 (its loss differentiates x̂(y), itself a
forward and a backward pass).

## Goals (issue 11)

{goals_table(results, backends, batches)}

## Training: images/s (% of the matmul peak)

`model.fit` on MNIST training images through `data.make_dataset` (real input pipeline,
metrics, no callbacks); best of the timed epochs after a warm-up that compiles. "Keras
defaults" is `compile(jit_compile="auto", steps_per_execution=1)` with Keras's `Conv2D`; "="
marks a cell where that is what the package uses too; bold is the package's
settings (`training.FASTEST`, what `TrainConfig`, `examples/train.py` and the experiments
use). Plain PyTorch is `benchmarks/plain_torch.py`: the same network and loss by hand, eager,
one fixed batch and no input pipeline.

{training_table(results, backends, batches)}

{settings_table(results, backends, batches)}

## Inference: images/s at batch 1,000 (% of the matmul peak)

Untrained weights (speed does not depend on them). "Eager" is what the robustness
experiments call (`estimate`, then the classifier: `certification.base_classifier`);
"compiled" is one Keras model of both, called with `predict_on_batch`
(`certification.compiled_base_classifier`, what certification uses by default; XLA on
TensorFlow and JAX). For certification's own loop see `benchmarks/certify_speed.py`.

{inference_table(results, backends)}

## Where the time goes

**Batch 128 (goal 2).** One σ-VAE training step on JAX, split into its convolutions (the
encoder's three, forward and backward) and its dense layers (the encoder's fc and one head,
the decoder), each differentiated alone:

{vae_profile_table(results, _peak(results))}

The dense layers run near the matmul peak; the small 3×3 convolutions (1 → 32 channels at
28 × 28, and the strided 32 → 64 and 64 → 128 layers) run at about half of it, and they are
about half of the step's FLOPs. Reaching 70% of the peak for the whole step would take
convolutions at nearly the matmul's efficiency, which the CPU convolutions used here (oneDNN's
for TensorFlow and PyTorch, XLA's for JAX) do not reach at these small shapes. The patch
formulation (`networks.PatchConv2D`, matmuls over 3 × 3 × C_in patches) turns the work into
matmuls but pays for building the patches; in our trials on JAX it was slower for this
first-order step, so the VAEs keep the direct convolution (it pays off for DEEN's
second-order step, below).

**DEEN on JAX (goal 3).** The energy network at batch 128, each piece jitted alone:

{profile_table(results)}

XLA's CPU code for a convolution's gradients (with respect to the input, a transposed
convolution, and with respect to the kernel) runs several times slower than the forward
pass, and DEEN's training step differentiates the input gradient once more. Written as
patches and a matmul (`networks.PatchConv2D`, the same weights and function), every piece is
a matmul or a slice; the JAX default for DEEN's energy network since issue 11
(`networks.resolve_convolution`). On TensorFlow, XLA has the same weakness: DEEN runs without
it (`training.FASTEST_DEEN`), with the steps in one graph loop.

**Batch 16 (goal 1).** {batch16_text(results, backends, batches)}

**PyTorch (goal 1).** Keras's PyTorch trainer runs every step eagerly; what it adds to the
plain PyTorch step, at batch 16:

{torch_overhead_table(results)}

Keras's Adam for PyTorch updates the weights with `torch._foreach_*` operations that
allocate a new list of tensors per operation; at batch 16 that update is a large share of
the step, and torch.optim's Adam does the same update faster. That and the Keras layers'
per-call bookkeeping are Keras's, not this package's. `torch.compile` (`--jit_compile=true`)
speeds the VAEs' step but compiles for a minute or more per input shape, and cannot compile
DEEN's double backprop; it is not the default.
"""
