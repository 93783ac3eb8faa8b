"""The experiment examples' shared flags reach every model's `TrainConfig`."""

from absl import flags

from keras_svae import training
from keras_svae.experiments import cli


def parsed(*argv):
    values = flags.FlagValues()
    cli.define_family_flags(values)
    values(["prog", *argv])
    return values


def test_speed_flags_default_to_the_fastest_settings():
    overrides = cli.training_overrides(parsed())
    assert overrides["steps_per_execution"] == training.TrainConfig.steps_per_execution == 0
    assert overrides["jit_compile"] == training.TrainConfig.jit_compile == "fastest"


def test_speed_flags_override_and_reach_the_config():
    overrides = cli.training_overrides(
        parsed("--steps_per_execution=7", "--jit_compile=false", "--epochs=2"))
    config = training.TrainConfig(**overrides)
    assert training.compile_settings(config) == (False, 7)
    assert config.epochs == 2
