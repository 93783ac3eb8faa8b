"""The experiment examples' shared flags reach every model's `TrainConfig`."""

import dataclasses

from absl import flags

from keras_svae import training
from keras_svae.experiments import cli


def parsed(*argv):
    values = flags.FlagValues()
    cli.define_model_flags(values)
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


def test_training_flags_are_train_configs_but_for_what_the_schedule_decides():
    values, config = parsed(), training.TrainConfig()
    fields = {field.name: field for field in dataclasses.fields(training.TrainConfig)}
    for name in cli.TRAINING_FLAGS:
        assert fields[name].metadata["help"] in values[name].help
    differ = {name: values[name].value for name in cli.TRAINING_FLAGS
              if values[name].value != getattr(config, name)}
    assert differ == {"epochs": None, "batch_size": None, "verbose": 2}
    assert "epochs" not in cli.training_overrides(values)  # The schedule's, then.
