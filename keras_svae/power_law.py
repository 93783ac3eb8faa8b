"""Deprecated: moved to `keras_svae.experiments.power_law`; this alias goes in the next release."""

import importlib
import sys
import warnings

warnings.warn("keras_svae.power_law has moved to keras_svae.experiments.power_law; the old path goes in the "
              "next release.", DeprecationWarning, stacklevel=2)
# The old name is the new module itself: attributes, isinstance and monkeypatching all agree.
sys.modules[__name__] = importlib.import_module("keras_svae.experiments.power_law")
