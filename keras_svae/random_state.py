"""Saving the models' random state with their weights.

Keras saves a layer's variables but not the state of its
`keras.random.SeedGenerator`. Our models draw their posterior samples (VAEs)
and training noise (DEEN) from one, so without it a model restored from a
checkpoint, e.g. by `keras.callbacks.BackupAndRestore`, would replay the
draws of its first epoch instead of continuing the stream: a resumed run would
drift from an uninterrupted one. This mixin stores the state beside the
model's own variables in `.keras` and `.weights.h5` files.
"""

_KEY = "seed_generator_state"


class SavesSeedState:
    """Mixin for models with a `seed_generator` attribute."""

    def _own_variables(self):
        return self._trainable_variables + self._non_trainable_variables

    def save_own_variables(self, store):
        for i, variable in enumerate(self._own_variables()):
            store[f"{i}"] = variable
        store[_KEY] = self.seed_generator.state

    def load_own_variables(self, store):
        for i, variable in enumerate(self._own_variables()):
            variable.assign(store[f"{i}"])
        if _KEY in store:  # Files written before the state was saved lack it.
            self.seed_generator.state.assign(store[_KEY])
