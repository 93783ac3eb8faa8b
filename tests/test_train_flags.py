"""examples/train.py's flags: one per TrainConfig field, derived from it."""

import dataclasses
import re

import pytest
from absl import flags

from conftest import REPO
from keras_svae import training

# Example flags named like a TrainConfig field but meaning the example's own thing.
OWN_MEANING = {
    ("certify.py", "alpha"),    # Cohen et al.'s failure probability, not the Laplace scale.
    ("certify.py", "seed"),     # The seed of the noise and posterior draws, not of training.
    ("evaluate.py", "seed"),
    ("figures.py", "seed"),
    ("robustness.py", "seed"),
}


@pytest.fixture
def flag_values():
    values = flags.FlagValues()
    training.define_flags(values)
    return values


def test_every_setting_is_a_flag_with_its_default_and_help(flag_values):
    fields = dataclasses.fields(training.TrainConfig)
    assert set(flag_values) == {field.name for field in fields}
    flag_values(["train.py"])
    assert training.config_from_flags(flag_values) == training.TrainConfig()
    for field in fields:
        assert field.metadata["help"] and flag_values[field.name].help.endswith(field.metadata["help"])


def test_flags_set_the_config(flag_values):
    flag_values(["train.py", "--model=deen", "--sigma=0.6", "--epochs=3", "--data_parallel",
                 "--data=/tmp/mnist.npz", "--learning_rate=3e-4"])
    config = training.config_from_flags(flag_values)
    assert config == training.TrainConfig(model="deen", sigma=0.6, epochs=3, data_parallel=True,
                                          data="/tmp/mnist.npz", learning_rate=3e-4)


@pytest.mark.parametrize("argv,error,match", [
    (["--sigmaa=0.5"], flags.UnrecognizedFlagError, "sigmaa"),  # A misspelt setting.
    (["--epochs=ten"], flags.IllegalFlagValueError, "epochs"),
    (["--model=beta_vae"], flags.IllegalFlagValueError, "model.*sigma_vae"),
    (["--strategy=ring"], flags.IllegalFlagValueError, "strategy"),
])
def test_unknown_or_mistyped_settings_are_named(flag_values, argv, error, match):
    with pytest.raises(error, match=match):
        flag_values(["train.py", *argv])


def test_no_example_declares_a_training_setting_by_hand():
    """A TrainConfig setting is a flag made by `training.define_flags` (its help, its
    default, or a default given with its reason), never declared again by hand."""
    fields = {field.name for field in dataclasses.fields(training.TrainConfig)}
    by_hand = set()
    for path in sorted((REPO / "examples").glob("*.py")):
        for name in re.findall(r'DEFINE_\w+\(\s*"(\w+)"', path.read_text()):
            if name in fields and (path.name, name) not in OWN_MEANING:
                by_hand.add((path.name, name))
    assert not by_hand
