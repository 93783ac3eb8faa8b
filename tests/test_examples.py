"""The example binaries run end to end on a tiny schedule."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_svae  # noqa: F401  (registers the classes that load_model needs)
from conftest import REPO, glue, to_numpy

pytestmark = glue  # Each test runs an example binary: glue, run once.

TINY = ["--epochs=1", "--train_size=256", "--test_size=300", "--batch_size=64", "--latent_dim=8"]


def run_example(script, *flags, cwd=REPO):
    """Runs examples/<script> from `cwd` (the repository root unless told otherwise)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, str(REPO / "examples" / script), *flags],
                            capture_output=True, text=True, env=env, timeout=600, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("model_flags", [["--model=sigma_vae", "--sigma=0.5"],
                                         ["--model=vanilla_vae", "--beta=2"],
                                         ["--model=deen", "--sigma=0.6"]])
def test_train_writes_model_metrics_and_logs(tmp_path, mnist_path, model_flags):
    outdir = tmp_path / "run"
    # From another working directory than the repository's: the examples import only the
    # installed package.
    result = run_example("train.py", *model_flags, *TINY, f"--data={mnist_path}",
                         f"--outdir={outdir}", cwd=tmp_path)
    assert "test: loss=" in result.stdout or "test: elbo=" in result.stdout
    assert "step" in result.stdout  # Keras's progress bar.
    report = json.loads((outdir / "metrics.json").read_text())
    name = model_flags[0].split("=")[1]
    assert report["config"]["model"] == name
    assert report["config"]["beta"] == (2.0 if "--beta=2" in model_flags else 1.0)
    assert all(np.isfinite(v) for v in report["test"].values())
    model = keras.saving.load_model(outdir / "last.keras")
    x = np.zeros((2, 28, 28, 1), "float32")
    if name == "deen":
        assert set(report["test"]) == {"loss", "mse", "noisy_mse"}
        assert model.sigma == 0.6
        assert to_numpy(model.denoise(x)).shape == (2, 28, 28, 1)
    else:
        assert set(report["test"]) == {"loss", "recon", "kl", "mse", "elbo"}
        assert model.latent_dim == 8
        assert to_numpy(model.reconstruct(x, seed=1)).shape == (2, 28, 28, 1)
    events = list(pathlib.Path(outdir / "logs").rglob("events.out.tfevents.*"))
    assert {p.parent.name for p in events} >= {"train", "validation"}


def test_train_rejects_a_bad_sigma_with_a_clear_error(tmp_path, mnist_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, str(REPO / "examples" / "train.py"), "--sigma=-1",
                             *TINY, f"--data={mnist_path}", f"--outdir={tmp_path}"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode != 0 and "sigma must be finite and > 0" in result.stderr


def test_equivalence_example_prints_the_pair_report(mnist_path):
    result = run_example("equivalence.py", "--noise=laplace", "--scale_1=0.8", "--scale_2=0.2",
                         "--train_size=128", "--test_size=250", "--batch_size=64",
                         "--latent_dim=8", f"--data={mnist_path}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["steps"] == 2 and report["optimizer"] == "sgd"
    assert report["max_weight_difference"] < 1e-5 * report["max_weight_magnitude"]
    assert report["metrics_scale_2"]["kl"] == pytest.approx(report["metrics_scale_1_beta"]["kl"],
                                                            rel=1e-4)


def test_the_experiments_run_end_to_end_on_a_tiny_schedule(tmp_path, mnist_path):
    """scaling_laws, figures and robustness share one root of trained models."""
    tiny = ["--epochs=1", "--train_size=128", "--test_size=100", "--latent_dim=8",
            f"--data={mnist_path}", f"--root={tmp_path / 'runs'}"]
    report = tmp_path / "docs"
    run_example("scaling_laws.py", "--noise=gaussian", "--scales=0.1,0.5,0.9", *tiny,
                f"--report_dir={report}")
    summary = json.loads((report / "scaling_gaussian_cpu.json").read_text())
    assert [r["scale"] for r in summary["rows"]] == [0.1, 0.5, 0.9]
    for row in summary["rows"]:
        assert row["ratio"] == pytest.approx(row["kl"] / row["elbo"])
        assert row["wall_seconds"] > 0
    kl = [r["kl"] for r in summary["rows"]]
    slope = np.polyfit(np.log([0.1, 0.5, 0.9]), np.log(kl), 1)[0]
    assert summary["fit"]["nu"] == pytest.approx(-slope, rel=1e-6)
    assert summary["schedule"]["name"] == "cpu" and summary["schedule"]["batch_size"] == 128
    table = (report / "scaling_gaussian_cpu.md").read_text()
    assert "| 0.9 |" in table and "8.61" in table  # The paper's Table 1 beside ours.
    assert (report / "scaling_gaussian_cpu.png").stat().st_size > 0
    for row in summary["rows"]:  # L is eq. 7 without its constant, as in Table 4.
        metrics = json.loads((tmp_path / "runs" / "cpu" / f"sigma_vae_{row['scale']:g}" /
                              "metrics.json").read_text())["test"]
        assert row["elbo"] == pytest.approx(
            -(metrics["mse"] / (2 * row["scale"] ** 2) + metrics["kl"]), rel=1e-4)

    def finished_runs():
        return {p.parent.name: p.stat().st_mtime_ns
                for p in (tmp_path / "runs" / "cpu").glob("*/metrics.json")}

    trained = finished_runs()

    run_example("figures.py", "--sigmas=0.1,0.9", *tiny, f"--report_dir={report}")
    figures = {"fig2_gaussian", "fig2_laplace", "fig3_laplace", "fig4_gaussian", "fig5_sigmas",
               "fig6_salt_and_pepper", "appendix_c_samples"}
    for name in figures:
        assert (report / f"{name}.png").stat().st_size > 0
    # The sweep's sigma-VAEs were reused, not retrained; the missing models were trained.
    after_figures = finished_runs()
    assert {k: after_figures[k] for k in trained} == trained
    assert {"vanilla_vae", "deen_0.6", "deen_0.9", "alpha_vae_0.9"} <= set(after_figures)

    run_example("robustness.py", "--noises=salt_and_pepper", "--classifier_epochs=1", *tiny,
                f"--report_dir={report}")
    curves = json.loads((report / "robustness_salt_and_pepper.json").read_text())
    assert curves["test_images"] == 100
    names = {r["estimator"] for r in curves["rows"]}
    assert {"raw y", "DEEN σ=0.9", "σ-VAE σ=0.9", "vanilla VAE", "α-VAE α=0.9"} <= names
    assert len(curves["rows"]) == len(names) * 6  # p = 0.1, ..., 0.6.
    assert all(0 <= r["accuracy"] <= 1 and r["mse"] > 0 for r in curves["rows"])
    assert (tmp_path / "runs" / "classifier_1epochs_128images_seed0.keras").exists()
    assert finished_runs() == after_figures  # Nothing retrained.
    assert (report / "robustness_salt_and_pepper.png").stat().st_size > 0

    certified = report / "certification"
    run_example("certify.py", "--sigmas=0.9", "--n0=10", "--n=50", "--num_images=4",
                "--every=25", "--classifier_epochs=1",
                "--combos=identity:clean,identity:noise,deen:finetuned,vae_sample:clean", *tiny,
                f"--report_dir={certified}")
    # The sigma-VAE's files name its dz (8 here), which is not the default 100, and the
    # classifiers' their 1 epoch, which is not the default 3.
    combos = ("identity_clean_1epochs", "identity_noise_1epochs", "deen_finetuned_1epochs",
              "vae_sample_dz8_clean_1epochs")
    for combo in combos:
        lines = (certified / "sigma_0.9" / f"{combo}.tsv").read_text().splitlines()
        assert lines[0] == "idx\tlabel\tpredict\tradius\tcorrect\ttime"
        assert [line.split("\t")[0] for line in lines[1:]] == ["0", "25", "50", "75"]
    summary = json.loads((certified / "summary_sigma_0.9_dz8_1epochs.json").read_text())
    assert set(summary) == {"identity:clean_1epochs", "identity:noise_1epochs",
                            "deen:finetuned_1epochs", "vae_sample_dz8:clean_1epochs"}
    assert all(s["images"] == 4 and s["n"] == 50 for s in summary.values())
    assert (tmp_path / "runs" / "classifier_noise0.9_1epochs_128images_seed0.keras").exists()
    assert finished_runs() == after_figures  # DEEN and the sigma-VAE at 0.9 were reused.
    # The anchor's LeNet: its own classifier file and certify file beside the ConvNet's.
    run_example("certify.py", "--sigmas=0.9", "--n0=10", "--n=50", "--num_images=4",
                "--every=25", "--classifier_epochs=1", "--classifier_architecture=lenet",
                "--combos=identity:noise", *tiny, f"--report_dir={certified}")
    lenet = (certified / "sigma_0.9" / "identity_noise_lenet_1epochs.tsv").read_text()
    assert len(lenet.splitlines()) == 1 + 4
    # Its summary is its own: the ConvNets' summary keeps its four rows.
    lenet_summary = json.loads(
        (certified / "summary_sigma_0.9_dz8_lenet_1epochs.json").read_text())
    assert set(lenet_summary) == {"identity:noise_lenet_1epochs"}
    assert summary == json.loads((certified / "summary_sigma_0.9_dz8_1epochs.json").read_text())
    assert (tmp_path / "runs" / "classifier_lenet_noise0.9_1epochs_128images_seed0.keras").exists()

    # Evaluation of the shared models: log p(x) beside the ELBO, AU, the KL spectrum, panels.
    evaluated = report / "evaluation"
    run_example("evaluate.py", "--schedule=cpu", f"--root={tmp_path / 'runs'}",
                "--models=sigma_vae:0.1,vanilla_vae", "--k=20", "--images=30",
                f"--data={mnist_path}", f"--report_dir={evaluated}")
    results = json.loads((evaluated / "evaluation.json").read_text())
    assert set(results) == {"sigma_vae_0.1", "vanilla_vae"}
    for r in results.values():
        assert r["images"] == 30 and r["k"] == 20 and r["latent_dim"] == 8
        assert r["log_px"] > r["elbo"] - 1.0  # The bound at k = 20 sits near or above the ELBO.
        assert sum(r["kl_per_dimension"]) == pytest.approx(r["kl"], rel=1e-6)
    assert "| sigma_vae_0.1 |" in (evaluated / "evaluation.md").read_text()
    for name in results:
        for panel in ("interpolation", "traversals"):
            assert (evaluated / f"{name}_{panel}.png").stat().st_size > 0
    assert finished_runs() == after_figures  # Evaluation trains nothing.
    # Adding a model to the report measures that model only; the others are kept as they were.
    stamp = os.path.getmtime(evaluated / "sigma_vae_0.1_interpolation.png")
    run_example("evaluate.py", "--schedule=cpu", f"--root={tmp_path / 'runs'}",
                "--models=sigma_vae:0.1,alpha_vae:0.9", "--k=20", "--images=30",
                f"--data={mnist_path}", f"--report_dir={evaluated}")
    again = json.loads((evaluated / "evaluation.json").read_text())
    assert set(again) == {"sigma_vae_0.1", "vanilla_vae", "alpha_vae_0.9"}
    assert again["sigma_vae_0.1"] == results["sigma_vae_0.1"]
    assert os.path.getmtime(evaluated / "sigma_vae_0.1_interpolation.png") == stamp
    assert again["alpha_vae_0.9"]["noise"] == "laplace" and again["alpha_vae_0.9"]["k"] == 20
    # Another k is another measure: that model is measured again, its panels redrawn.
    run_example("evaluate.py", "--schedule=cpu", f"--root={tmp_path / 'runs'}",
                "--models=sigma_vae:0.1", "--k=10", "--images=30",
                f"--data={mnist_path}", f"--report_dir={evaluated}")
    third = json.loads((evaluated / "evaluation.json").read_text())
    assert third["sigma_vae_0.1"]["k"] == 10 and third["vanilla_vae"] == again["vanilla_vae"]
    assert third["sigma_vae_0.1"]["log_px"] != again["sigma_vae_0.1"]["log_px"]
    assert os.path.getmtime(evaluated / "sigma_vae_0.1_interpolation.png") > stamp


def test_evaluate_refuses_two_runs_of_one_name(tmp_path):
    # Its report is keyed by run name: the cpu and paper schedules' sigma_vae_0.1 would collide,
    # in one command or across two into one report.
    def evaluate(*flags):
        return subprocess.run([sys.executable, str(REPO / "examples" / "evaluate.py"), *flags],
                              capture_output=True, text=True, timeout=600)

    cpu, paper = tmp_path / "cpu" / "sigma_vae_0.1", tmp_path / "paper" / "sigma_vae_0.1"
    result = evaluate(f"--runs={cpu},{paper}", f"--report_dir={tmp_path / 'report'}")
    assert result.returncode != 0 and "share the name sigma_vae_0.1" in result.stderr
    assert not (tmp_path / "report").exists()
    report = tmp_path / "cpu_report"
    report.mkdir()
    (report / "evaluation.json").write_text(json.dumps(
        {"sigma_vae_0.1": {"model_file": str(cpu / "last.keras")}}))
    for folder in (cpu, paper):  # Both trained: the refusal is the name's.
        folder.mkdir(parents=True)
        (folder / "last.keras").write_bytes(b"")
    result = evaluate(f"--runs={paper}", f"--report_dir={report}")
    assert result.returncode != 0 and f"holds sigma_vae_0.1 of {cpu / 'last.keras'}" in result.stderr
    # No model trained there: refused before any data is read.
    result = evaluate(f"--runs={tmp_path / 'none' / 'sigma_vae_0.2'}", f"--report_dir={report}",
                      f"--data={tmp_path / 'no_such.npz'}")
    assert result.returncode != 0 and "No trained model at" in result.stderr


def test_the_paper_on_a_gpu_command_probes_trains_resumes_and_reports(tmp_path, mnist_path):
    """README's "Reproducing the paper on a GPU" at a tiny size: 6 members, 2 epochs."""
    tiny = ["--scales=0.1,0.5,0.9", "--train_size=32", "--test_size=32", "--batch_size=16",
            "--latent_dim=4", "--epochs=2", f"--data={mnist_path}",
            f"--root={tmp_path / 'runs'}", f"--report_dir={tmp_path / 'docs'}"]
    # A budget of 0.6 s: the first epoch runs past it, so training stops there.
    run_example("paper_on_gpu.py", *tiny, "--probe_steps=0", "--minutes=0.01",
                "--reserve_seconds=0")
    partial = (tmp_path / "docs" / "scaling_gaussian_paper.md").read_text()
    assert "Partial: 1 of 2 epochs done" in partial and "as one family of 6 members on CPU" in partial
    # The same command without a budget probes, then carries on to the end.
    second = run_example("paper_on_gpu.py", *tiny, "--probe_steps=2")
    assert "Projected:" in second.stdout
    probe = json.loads((tmp_path / "docs" / "paper_probe_paper.json").read_text())
    assert probe["device"] == "CPU" and probe["members"] == 6
    assert set(probe["steps_per_second"]) == {"1", "6"} and probe["steps"] == 2 * 2
    for noise, model in (("gaussian", "sigma_vae"), ("laplace", "alpha_vae")):
        summary = json.loads((tmp_path / "docs" / f"scaling_{noise}_paper.json").read_text())
        assert summary["schedule"]["epochs_done"] == 2 and summary["schedule"]["batch_size"] == 16
        assert [r["scale"] for r in summary["rows"]] == [0.1, 0.5, 0.9]
        history = (tmp_path / "runs" / "paper" / f"{model}_0.9" / "history.csv").read_text()
        assert len(history.strip().splitlines()) == 1 + 2  # header, epochs 0 and 1: resumed
    assert "Partial" not in (tmp_path / "docs" / "scaling_gaussian_paper.md").read_text()


def test_scaling_laws_trains_a_sweep_as_one_family(tmp_path, mnist_path):
    run_example("scaling_laws.py", "--family", "--scales=0.2,0.5,0.8", "--epochs=1",
                "--train_size=32", "--test_size=32", "--latent_dim=4", f"--data={mnist_path}",
                f"--root={tmp_path / 'runs'}", f"--report_dir={tmp_path}")
    summary = json.loads((tmp_path / "scaling_gaussian_cpu.json").read_text())
    assert summary["schedule"]["trained_as"] == "as one family of 3 members"
    assert [r["scale"] for r in summary["rows"]] == [0.2, 0.5, 0.8]
    assert (tmp_path / "runs" / "cpu" / "sigma_vae_0.8" / "last.keras").exists()


def test_compare_certificates_prints_the_paired_gap(tmp_path):
    header = "idx\tlabel\tpredict\tradius\tcorrect\ttime"
    (tmp_path / "a.tsv").write_text(f"{header}\n0\t1\t1\t0.9\t1\t0.1\n1\t2\t2\t0.6\t1\t0.1\n")
    (tmp_path / "b.tsv").write_text(f"{header}\n1\t2\t2\t0.7\t1\t0.1\n0\t1\t3\t0.9\t0\t0.1\n")
    result = run_example("compare_certificates.py", str(tmp_path / "a.tsv"),
                         str(tmp_path / "b.tsv"), "--radii=0.5,0.8")
    assert "| 0.5 | 100.0 | 50.0 | 50.0 | 50.0 | 1 | 0 | 2 |" in result.stdout
    assert "| 0.8 | 50.0 | 0.0 | 50.0 | 50.0 | 1 | 0 | 2 |" in result.stdout
    # A file of more images: compared on the common ones only when asked.
    (tmp_path / "c.tsv").write_text((tmp_path / "b.tsv").read_text() + "2\t4\t4\t2.0\t1\t0.1\n")
    refused = subprocess.run([sys.executable, str(REPO / "examples" / "compare_certificates.py"),
                              str(tmp_path / "a.tsv"), str(tmp_path / "c.tsv")],
                             capture_output=True, text=True, cwd=REPO)
    assert refused.returncode != 0 and "1 not in both" in refused.stderr
    common = run_example("compare_certificates.py", str(tmp_path / "a.tsv"),
                         str(tmp_path / "c.tsv"), "--radii=0.5", "--common")
    assert "| 0.5 | 100.0 | 50.0 | 50.0 | 50.0 | 1 | 0 | 2 |" in common.stdout
