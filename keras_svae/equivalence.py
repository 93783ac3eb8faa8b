"""Deprecated: moved to `keras_svae.experiments.equivalence`; this alias goes in the next release."""

import importlib
import sys
import warnings

warnings.warn("keras_svae.equivalence has moved to keras_svae.experiments.equivalence; the old path goes in the "
              "next release.", DeprecationWarning, stacklevel=2)
# The old name is the new module itself: attributes, isinstance and monkeypatching all agree.
sys.modules[__name__] = importlib.import_module("keras_svae.experiments.equivalence")
