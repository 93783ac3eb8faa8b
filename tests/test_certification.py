"""The certification experiment: front-ends, resumable certify files, summaries."""

import keras
import numpy as np
import pytest

from conftest import SMALL, to_numpy
from keras_svae import DEEN, data, networks, sigma_vae, training
from keras_svae.experiments import certification, classifier, runs, smoothing

SHAPE = SMALL["data_shape"]
Y = np.random.default_rng(0).normal(0.5, 0.7, (5,) + SHAPE).astype("float32")


def point_mass_vae(mean=0.2):
    """A sigma-VAE whose q(z | y) is N(mean, e^-40) whatever y: every draw decodes alike."""
    vae = sigma_vae(0.7, seed=0, **SMALL)
    for layer, bias in ((vae.encoder.mean, mean), (vae.encoder.log_var, -40.0)):
        layer.kernel.assign(np.zeros(layer.kernel.shape, "float32"))
        layer.bias.assign(np.full(layer.bias.shape, bias, "float32"))
    return vae


def test_front_ends_are_the_models_estimators():
    np.testing.assert_array_equal(certification.front_end("identity")(Y), Y)
    deen = DEEN(0.7, energy=networks.EnergyNetwork((4, 4, 4), units=8), data_shape=SHAPE)
    np.testing.assert_array_equal(to_numpy(certification.front_end("deen", deen)(Y)),
                                  to_numpy(deen.denoise(Y)))
    vae = sigma_vae(0.7, seed=0, **SMALL)
    np.testing.assert_array_equal(to_numpy(certification.front_end("vae_mean", vae)(Y)),
                                  to_numpy(vae.reconstruct(Y, sample=False)))
    one, same = (certification.front_end("vae_sample", vae, seed=2) for _ in range(2))
    np.testing.assert_array_equal(to_numpy(one(Y)), to_numpy(same(Y)))
    assert not np.allclose(to_numpy(one(Y)), to_numpy(one(Y)))  # A fresh draw per call.


def test_the_average_front_end_averages_k_draws():
    point = point_mass_vae()
    decoded = to_numpy(point.decode(np.full((5, point.latent_dim), 0.2, "float32")))
    np.testing.assert_allclose(to_numpy(certification.front_end("vae_average", point, k=3)(Y)),
                               decoded, atol=1e-6)
    vae = sigma_vae(0.7, seed=0, **SMALL)
    averaged = to_numpy(certification.front_end("vae_average", vae, seed=4, k=2)(Y))
    draws = certification.front_end("vae_sample", vae, seed=4)
    np.testing.assert_allclose(averaged, (to_numpy(draws(Y)) + to_numpy(draws(Y))) / 2, atol=1e-6)


def test_bad_front_ends_are_named():
    with pytest.raises(ValueError, match="front_end must be one of"):
        certification.front_end("median")
    with pytest.raises(ValueError, match="The deen front-end needs a trained model"):
        certification.front_end("deen")
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        certification.front_end("vae_average", sigma_vae(0.7, **SMALL), k=0)


def small_classifier():
    return classifier.convnet(SHAPE, name="judge")


@pytest.mark.parametrize("front_name", ["identity", "deen", "vae_mean"])
def test_the_compiled_base_classifier_is_the_eager_one(front_name):
    model = {"identity": None, "vae_mean": sigma_vae(0.7, seed=0, **SMALL),
             "deen": DEEN(0.7, energy=networks.EnergyNetwork((4, 4, 4), units=8),
                          data_shape=SHAPE)}[front_name]
    judge = small_classifier()
    eager = certification.base_classifier(certification.front_end(front_name, model), judge)
    compiled = certification.compiled_base_classifier(front_name, model, judge)
    expected = to_numpy(eager(Y))
    assert np.abs(expected).max() > 1e-3  # Not a vacuous comparison of zeros.
    np.testing.assert_allclose(to_numpy(compiled(Y)), expected, rtol=1e-4, atol=1e-5)


def test_compiled_draws_are_fresh_per_call_and_seeded():
    vae, judge = sigma_vae(0.7, seed=0, **SMALL), small_classifier()
    compiled = certification.compiled_base_classifier("vae_sample", vae, judge, seed=3)
    again = certification.compiled_base_classifier("vae_sample", vae, judge, seed=3)
    first, second = to_numpy(compiled(Y)), to_numpy(compiled(Y))
    assert not np.allclose(first, second, atol=1e-6)  # A fresh z each call, compiled too.
    np.testing.assert_allclose(to_numpy(again(Y)), first, rtol=1e-5, atol=1e-6)  # Seeded.
    # A point-mass posterior: every draw, and the average of k, decodes its mean.
    point = point_mass_vae()
    decoded = to_numpy(point.decode(np.full((5, point.latent_dim), 0.2, "float32")))
    pipeline = certification.FrontEndClassifier("vae_average", point, judge, k=3)
    np.testing.assert_allclose(to_numpy(pipeline.estimate(Y)), decoded, atol=1e-6)


def test_a_compiled_certificate_matches_the_eager_one():
    deen = DEEN(0.7, energy=networks.EnergyNetwork((4, 4, 4), units=8), data_shape=SHAPE)
    judge = small_classifier()
    image = np.clip(Y[0], 0, 1)
    eager = certification.base_classifier(certification.front_end("deen", deen), judge)
    compiled = certification.compiled_base_classifier("deen", deen, judge)
    # The same noise (seeded), the same function: the same certificate.
    assert (smoothing.certify(compiled, image, 0.7, 20, 200, 0.01, batch_size=64, seed=5)
            == smoothing.certify(eager, image, 0.7, 20, 200, 0.01, batch_size=64, seed=5))


def test_a_bad_compiled_front_end_is_named():
    with pytest.raises(ValueError, match="front_end must be one of"):
        certification.FrontEndClassifier("median", None, small_classifier())


def constant(label):
    return lambda images: keras.ops.one_hot(
        keras.ops.full((keras.ops.shape(images)[0],), label, "int32"), 10)


def test_a_killed_certification_resumes_from_its_file(tmp_path):
    path = str(tmp_path / "sigma_0.5" / "identity_clean.tsv")
    images, labels = np.zeros((6,) + SHAPE, "float32"), np.array([3, 3, 1, 3, 3, 3])
    args = (images, labels, [0, 2, 4], 0.5, 10, 50, 0.01)
    first = certification.certify_to_file(path, constant(3), *args, batch_size=25)
    seen, progress = [], []

    def counting(images):
        seen.append(len(images))
        return constant(3)(images)

    # Drop the last row, as a kill after two images would leave the file.
    lines = open(path).read().splitlines()
    open(path, "w").write("\n".join(lines[:-1]) + "\n")
    again = certification.certify_to_file(path, counting, *args, batch_size=25,
                                          progress=progress.append)
    assert [r.idx for r in again] == [0, 2, 4]
    assert sum(seen) == 10 + 50 and progress == [3]  # Only the missing image was certified.
    assert [(r.predict, r.correct) for r in again] == [(r.predict, r.correct) for r in first]
    assert certification.read_certificates(path) == again
    open(path, "w").write("something else\n")
    with pytest.raises(ValueError, match="not a certify file"):
        certification.certify_to_file(path, constant(3), *args)


def test_summary_and_table():
    rows = [smoothing.Certificate(i, 3, p, r, int(p == 3), 0.5)
            for i, (p, r) in enumerate([(3, 1.2), (3, 0.3), (-1, 0.0), (5, 0.9)])]
    s = certification.summary(rows, 0.5, 1000, 0.001, radii=[0.0, 0.25, 0.5, 1.0])
    assert s["certified_accuracy"] == [0.5, 0.5, 0.25, 0.25]
    assert s["abstained"] == 0.25 and s["images"] == 4 and s["seconds_per_image"] == 0.5
    assert s["max_radius"] == pytest.approx(smoothing.max_radius(0.5, 1000, 0.001))
    table = certification.markdown_table({("deen", "clean"): s})
    assert "| front-end | classifier | 0 | 0.25 | 0.5 | 1 | abstain | s/image |" in table
    assert "| deen | clean | 50.0 | 50.0 | 25.0 | 25.0 | 25.0 | 0.50 |" in table


def test_fine_tuning_on_front_end_outputs_is_cached(tmp_path, rng):
    images = rng.uniform(size=(64, 28, 28, 1)).astype("float32")
    labels = rng.integers(0, 2, 64)
    base = classifier.train(images, labels, epochs=1, batch_size=32)
    before = [to_numpy(w).copy() for w in base.weights]
    path = str(tmp_path / "finetuned.keras")
    tuned = certification.finetuned_classifier(path, base, lambda y: 2.0 * y - 0.5, images,
                                               labels, 0.5, epochs=1, batch_size=16)
    assert any(not np.array_equal(a, to_numpy(b)) for a, b in zip(before, tuned.weights))
    again = certification.finetuned_classifier(path, None, None, None, None, 0.5)  # The file.
    np.testing.assert_array_equal(to_numpy(again(images[:2])), to_numpy(tuned(images[:2])))
    with pytest.raises(ValueError, match="classifier must be one of"):
        certification.classifier_for("robust", None, 0.5, "identity", None, None, None)


def test_a_folder_of_certificates_refuses_another_protocol(tmp_path):
    folder = str(tmp_path / "sigma_0.7")
    certification.check_protocol(folder, dict(n0=100, n=1000, alpha=0.001, images=[0, 20]))
    certification.check_protocol(folder, dict(n0=100, n=1000, alpha=0.001, images=[0, 20]))
    with pytest.raises(ValueError, match=r"other settings.*'n': \(1000, 100000\)"):
        certification.check_protocol(folder, dict(n0=100, n=100000, alpha=0.001, images=[0, 20]))


def test_front_end_models_come_from_the_trained_models():
    asked = []

    class TrainedModels:
        def load(self, model, scale):
            asked.append((model, scale))
            return model

    models = TrainedModels()
    assert certification.front_end_model(models, "identity", 0.7) is None
    assert certification.front_end_model(models, "deen", 0.7) == "deen"
    assert certification.front_end_model(models, "vae_mean", 0.7, vae_sigma=0.9) == "sigma_vae"
    assert certification.front_end_model(models, "vae_sample", 0.5) == "sigma_vae"
    assert asked == [("deen", 0.7), ("sigma_vae", 0.9), ("sigma_vae", 0.5)]


def test_a_classifier_is_named_by_its_settings():
    # Defaults keep the names that the committed certify files and runs already have.
    assert certification.classifier_label("noise") == "noise"
    assert runs.classifier_name() == "classifier_3epochs_seed0"
    assert runs.classifier_name(noise_sigma=0.7) == "classifier_noise0.7_3epochs_seed0"
    # Anything else is named, so certificates of different classifiers never share a file.
    assert certification.classifier_label("noise", "lenet", 15) == "noise_lenet_15epochs"
    assert certification.classifier_label("clean", epochs=1) == "clean_1epochs"
    assert (certification.classifier_label("finetuned", finetune_epochs=2)
            == "finetuned_tuned2epochs")
    assert certification.classifier_label("clean", finetune_epochs=2) == "clean"  # Not fine-tuned.
    assert certification.classifier_settings("lenet", 3, 2) == "_lenet_tuned2epochs"
    assert (runs.classifier_name(15, 1000, 1, 0.25, "lenet")
            == "classifier_lenet_noise0.25_15epochs_1000images_seed1")
    assert (runs.classifier_name(dataset="cifar10", architecture="lenet")
            == "classifier_cifar10_lenet_3epochs_seed0")
    with pytest.raises(ValueError, match="architecture must be one of"):
        runs.trained_classifier("unused", architecture="resnet")


def test_the_trained_models_train_the_asked_architecture(tmp_path, rng):
    asked = []

    class TrainedModels:
        folder, dataset, overrides = str(tmp_path), "mnist", {}

        def classifier(self, epochs, seed, noise_sigma=0.0, architecture="convnet"):
            asked.append((epochs, seed, noise_sigma, architecture))
            return classifier.build(architecture, (28, 28, 1), 2)  # LeNet needs 28 x 28.

    args = (TrainedModels(), 0.5, "identity", certification.front_end("identity"),
            rng.uniform(size=(8, 28, 28, 1)).astype("float32"), rng.integers(0, 2, 8))
    certification.classifier_for("noise", *args, epochs=15, architecture="lenet")
    certification.classifier_for("clean", *args, architecture="lenet")
    certification.classifier_for("finetuned", *args, epochs=15, architecture="lenet")
    certification.classifier_for("finetuned", *args)  # The defaults: the name runs/ caches have.
    assert asked == [(15, 0, 0.5, "lenet"), (3, 0, 0.0, "lenet"), (15, 0, 0.0, "lenet"),
                     (3, 0, 0.0, "convnet")]
    assert (tmp_path / "classifier_finetuned_lenet_15epochs_identity_sigma0.5_seed0.keras").exists()
    assert (tmp_path / "classifier_finetuned_identity_sigma0.5_seed0.keras").exists()
    # Other data, or part of it: a file of its own, never the MNIST one.
    other = TrainedModels()
    other.dataset, other.overrides = "fashion_mnist", {"train_size": 8}
    certification.classifier_for("finetuned", other, *args[1:])
    assert len(asked) == 5  # A clean classifier to fine-tune was asked for: nothing was loaded.
    assert (tmp_path / "classifier_fashion_mnist_finetuned_identity_sigma0.5_8images_seed0.keras"
            ).exists()


def test_the_experiment_names_its_files_by_their_settings_and_resumes(tmp_path, mnist_path):
    loaded = []

    class TrainedModels:  # dz 8 and the sigma-VAE at 0.3: both not the defaults.
        folder, overrides = str(tmp_path / "runs"), dict(data=mnist_path, train_size=64)

        def config(self, model, scale):
            return training.TrainConfig(model=model, latent_dim=8)

        def load(self, model, scale):
            loaded.append((model, scale))
            return sigma_vae(scale, latent_dim=8, conv_channels=(4, 8, 8), encoder_units=16,
                             decoder_units=32, seed=0)

        def classifier(self, epochs, seed, noise_sigma=0.0, architecture="convnet"):
            return classifier.build(architecture)

        def images(self, split):
            return data.load_mnist(split, path=mnist_path)

    report = tmp_path / "report"
    run = dict(sigmas=["0.5"], combos=["identity:noise", "vae_mean:clean"], vae_sigma=0.3,
               n0=4, n=8, num_images=2, every=50, batch_size=8, classifier_epochs=1, verbose=0)
    tables = certification.certify_front_ends(TrainedModels(), str(report), **run)
    assert loaded == [("sigma_vae", 0.3)]
    assert sorted(p.name for p in (report / "sigma_0.5").iterdir()) == [
        "identity_noise_1epochs.tsv", "protocol.json", "vae_mean_vae0.3_dz8_clean_1epochs.tsv"]
    assert list(tables) == [0.5] and "| vae_mean_vae0.3_dz8 | clean_1epochs |" in tables[0.5]
    assert (report / "summary_sigma_0.5_vae0.3_dz8_1epochs.md").read_text() == tables[0.5]
    rows = (report / "sigma_0.5" / "identity_noise_1epochs.tsv").read_text().splitlines()
    assert [row.split("\t")[0] for row in rows[1:]] == ["0", "50"]
    # A rerun finds every certificate made (a resumed file keeps its rows and times).
    assert certification.certify_front_ends(TrainedModels(), str(report), **run) == tables
    with pytest.raises(ValueError, match="other settings"):
        certification.certify_front_ends(TrainedModels(), str(report), **{**run, "n": 16})
