"""SigmaVAEFamily: K members trained as one model equal K separate SigmaVAE runs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import SMALL, to_numpy
from keras_svae import data, family, vae

SHAPE = SMALL["data_shape"]
NETWORK = {k: v for k, v in SMALL.items() if k != "data_shape"}
X = np.random.default_rng(0).uniform(size=(40,) + SHAPE).astype("float32")
# A mix of everything a member may differ in: noise model, scale, beta, seed.
MEMBERS = [dict(noise="gaussian", scale=0.3, seed=1), dict(noise="laplace", scale=0.5, seed=2),
           dict(noise="gaussian", scale=0.9, beta=2.0, seed=3)]


def singles():
    return [vae.SigmaVAE(data_shape=SHAPE, **NETWORK, **m) for m in MEMBERS]


def optimizer(name):
    return keras.optimizers.SGD(0.05) if name == "sgd" else keras.optimizers.Adam(1e-3)


def assert_members_equal(fam, models, atol):
    for k, model in enumerate(models):
        member = fam.member(k)
        for a, b in zip(member.weights, model.weights):
            np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=atol, rtol=0,
                                       err_msg=f"member {k}: {b.path}")


# Training equals separate runs ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_members_train_as_separate_sigma_vaes(name):
    """Same initial weights, batches and seeds: the family's members follow the separate runs."""
    models = singles()
    fam = family.SigmaVAEFamily.from_members(models)
    histories = []
    for model in models:
        model.compile(optimizer(name))
        histories.append(model.fit(X, batch_size=16, epochs=2, shuffle=False, verbose=0).history)
    fam.compile(optimizer(name))
    history = fam.fit(X, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    assert_members_equal(fam, models, atol=1e-5)
    # Each member's metrics are its own run's; the loss is their sum.
    for label, single in zip(fam.labels, histories):
        for metric in ("kl", "mse", "recon", "elbo"):
            np.testing.assert_allclose(history[f"{metric}/{label}"], single[metric], rtol=1e-4)
    np.testing.assert_allclose(history["loss"], np.sum([h["loss"] for h in histories], axis=0),
                               rtol=1e-4)
    assert fam.labels == ["σ=0.3", "α=0.5", "σ=0.9,β=2"]


def test_each_member_its_own_data_order():
    """make_family_dataset gives member k the batches its seed gives a separate run."""
    models = singles()
    fam = family.SigmaVAEFamily.from_members(models)
    for model, member in zip(models, MEMBERS):
        model.compile(optimizer("sgd"))
        model.fit(data.make_dataset(X, 16, seed=member["seed"], epoch=tf.Variable(0, dtype="int64")),
                  epochs=1, verbose=0)
    fam.compile(optimizer("sgd"))
    fam.fit(data.make_family_dataset(X, 16, [m["seed"] for m in MEMBERS]), epochs=1, verbose=0)
    assert_members_equal(fam, models, atol=1e-5)


def test_family_dataset_columns_are_the_single_orders():
    epoch = tf.Variable(0, dtype="int64")
    batches = list(data.make_family_dataset(X, 16, [4, 5], epoch=epoch))
    assert [b.shape[:2] for b in batches] == [(16, 2), (16, 2), (8, 2)]
    for k, seed in enumerate([4, 5]):
        single = np.concatenate(list(data.make_dataset(X, 16, seed=seed, epoch=epoch)))
        np.testing.assert_array_equal(np.concatenate([b[:, k] for b in batches]), single)
    assert not np.array_equal(batches[0][:, 0], batches[0][:, 1])


def test_family_dataset_reshuffles_each_pass_without_an_epoch_variable():
    dataset = data.make_family_dataset(X, 40, [4, 5])
    first, second = (next(iter(dataset)).numpy() for _ in range(2))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.sort(first[:, 0].ravel()), np.sort(second[:, 0].ravel()))


# Members out ----------------------------------------------------------------------------------


def test_member_gives_the_members_outputs(tmp_path):
    fam = family.SigmaVAEFamily(MEMBERS, data_shape=SHAPE, **NETWORK)
    for k in range(fam.num_members):
        member = fam.member(k)
        assert isinstance(member, vae.SigmaVAE) and member is not fam.vaes[k]
        assert (member.noise, member.scale, member.beta, member.seed) == (
            MEMBERS[k]["noise"], MEMBERS[k]["scale"], MEMBERS[k].get("beta", 1.0),
            MEMBERS[k]["seed"])
        state = to_numpy(fam.vaes[k].seed_generator.state)
        ours = to_numpy(fam(X[:5])["logits"][k])
        fam.vaes[k].seed_generator.state.assign(state)  # The member's copy starts from here too.
        np.testing.assert_allclose(to_numpy(member(X[:5])["logits"]), ours, atol=1e-6)
        path = str(tmp_path / f"member{k}.keras")
        member.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_allclose(to_numpy(loaded.encode(X[:5])[0]),
                                   to_numpy(fam(X[:5])["z_mean"][k]), atol=1e-6)


def test_members_see_their_own_batches():
    """With a member axis, member k's outputs are its model's on column k."""
    fam = family.SigmaVAEFamily(MEMBERS, data_shape=SHAPE, **NETWORK)
    own = np.stack([X[:6], X[6:12], X[12:18]], axis=1)
    z_mean = to_numpy(fam(own)["z_mean"])
    for k in range(3):
        np.testing.assert_allclose(z_mean[k], to_numpy(fam.vaes[k].encode(own[:, k])[0]),
                                   atol=1e-6)
    assert not np.allclose(z_mean[0], to_numpy(fam.vaes[0].encode(X[6:12])[0]), atol=1e-3)


def test_a_saved_family_loads_after_importing_the_package_only(tmp_path):
    """`import keras_svae` registers the family, as it does SigmaVAE (a fresh process)."""
    import subprocess
    import sys

    path = tmp_path / "family.keras"
    family.SigmaVAEFamily(MEMBERS[:1], data_shape=SHAPE, **NETWORK).save(path)
    code = f"import keras, keras_svae; print(keras.saving.load_model({str(path)!r}).labels)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "['σ=0.3']" in result.stdout


def test_family_saves_and_loads(tmp_path):
    fam = family.SigmaVAEFamily(MEMBERS, data_shape=SHAPE, **NETWORK)
    fam.compile(optimizer("adam"))
    fam.fit(X, batch_size=16, epochs=1, verbose=0)
    path = str(tmp_path / "family.keras")
    fam.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.members == fam.members and loaded.get_config() == fam.get_config()
    for a, b in zip(loaded.weights, fam.weights):
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    for ours, theirs in zip(loaded.vaes, fam.vaes):  # The draws continue, not replayed.
        np.testing.assert_array_equal(to_numpy(ours.seed_generator.state),
                                      to_numpy(theirs.seed_generator.state))


# Bad families ---------------------------------------------------------------------------------


def test_bad_families_name_the_problem():
    with pytest.raises(ValueError, match="at least one member"):
        family.SigmaVAEFamily([])
    with pytest.raises(ValueError, match="at least one member"):
        family.SigmaVAEFamily.from_members([])
    with pytest.raises(ValueError, match="sigma must be finite and > 0"):
        family.SigmaVAEFamily([dict(scale=0.0)])
    with pytest.raises(ValueError, match="belong to the whole family"):
        family.SigmaVAEFamily([dict(scale=0.5, latent_dim=8)])
    with pytest.raises(ValueError, match="repeat the same noise"):
        family.SigmaVAEFamily([dict(scale=0.5, seed=1), dict(scale=0.5, seed=1)])
    with pytest.raises(ValueError, match="must be a dict"):
        family.SigmaVAEFamily([0.5])
    with pytest.raises(ValueError, match="Members must be SigmaVAE"):
        family.SigmaVAEFamily.from_members([object()])
    other = vae.SigmaVAE(scale=0.6, data_shape=(6, 6, 1), **NETWORK)
    with pytest.raises(ValueError, match=r"one data shape"):
        family.SigmaVAEFamily.from_members([vae.SigmaVAE(scale=0.5, data_shape=SHAPE, **NETWORK),
                                            other])
    model = vae.SigmaVAE(scale=0.5, data_shape=SHAPE, **NETWORK)
    with pytest.raises(ValueError, match="share the weight"):
        family.SigmaVAEFamily([model, model])
    with pytest.raises(ValueError, match="give each member its own"):
        family.SigmaVAEFamily([dict(scale=0.5)], encoder=model.encoder)


def test_same_settings_other_seeds_are_labelled_by_seed():
    fam = family.SigmaVAEFamily([dict(scale=0.5, seed=1), dict(scale=0.5, seed=2),
                                 dict(noise="bernoulli")], data_shape=SHAPE, **NETWORK)
    assert fam.labels == ["σ=0.5,seed=1", "σ=0.5,seed=2", "bernoulli"]


def test_bad_inputs_and_optimizers_are_refused():
    fam = family.SigmaVAEFamily(MEMBERS, data_shape=SHAPE, **NETWORK)
    with pytest.raises(ValueError, match=r"one batch per member"):
        fam(np.stack([X[:4], X[4:8]], axis=1))
    with pytest.raises(ValueError, match="must be a batch of shape"):
        fam(X[:4, :6])
    with pytest.raises(ValueError, match="pixels in \\[0, 1\\]"):
        fam.compile(optimizer("sgd"))
        fam.fit(X * 255, epochs=1, verbose=0)
    fam.compile(keras.optimizers.Adam(1e-3, global_clipnorm=1.0))
    with pytest.raises(ValueError, match="clipnorm"):
        fam.fit(X, epochs=1, verbose=0)
    with pytest.raises(IndexError, match="member index"):
        fam.member(3)
    with pytest.raises(IndexError, match="member index"):
        fam.set_member(-1, singles()[0])
    with pytest.raises(ValueError, match="Member 1 is"):
        fam.set_member(1, singles()[0])
    for coupling in (keras.optimizers.Lamb(), keras.optimizers.LossScaleOptimizer(
            keras.optimizers.Adam())):
        fam.compile(coupling)
        with pytest.raises(ValueError, match="updates each weight entry on its own"):
            fam.fit(X, epochs=1, verbose=0)
