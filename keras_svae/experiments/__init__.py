"""The paper's experiments (Section 5), as a library over the models.

The package has three layers, each importing only the ones below it:

* primitives: `imaginary_noise`, `posterior`, `networks`, `input_gradient`,
  `corruption`, `data`, `validation`, `reductions`, `random_state`,
  `distribution`;
* models and their training: `vae` (`SigmaVAE`), `deen` (`DEEN`),
  `training`, `callbacks`;
* the experiments (this package):

  - `runs`: the named schedules and the shared folders of trained models
    (`TrainedModels`), so that every experiment reuses the same models;
  - `paper`: the paper's Tables 1-4 and quoted figures, the one place they live;
  - `power_law` and `scaling_laws`: the fit of nu and the sweep's reports
    (Tables 1-4);
  - `equivalence`: Theorems 1 and 2 in training;
  - `classifier` and `robustness`: the clean-MNIST judge and the robustness
    curves;
  - `figures`: Figures 2-6 and Appendix C;
  - `smoothing`: randomized-smoothing prediction and certification (Section 6);
  - `universality`: nu per network (Remark 3's universality question);
  - `evaluation_report`: log p(x), AU and the KL spectrum of trained models, with panels;
  - `report_files`: the JSON, markdown and plot files every report writes;
  - `cli`: the flags the example binaries share.

`runs`' names are also here (`experiments.train`, `experiments.TrainedModels`, ...),
where they lived when this package was one module.
"""

from keras_svae.experiments import classifier
from keras_svae.experiments import equivalence
from keras_svae.experiments import figures
from keras_svae.experiments import paper
from keras_svae.experiments import power_law
from keras_svae.experiments import robustness
from keras_svae.experiments import runs
from keras_svae.experiments import scaling_laws
from keras_svae.experiments import smoothing
from keras_svae.experiments import universality
from keras_svae.experiments.runs import SCALES
from keras_svae.experiments.runs import SCHEDULES
from keras_svae.experiments.runs import TrainedModels
from keras_svae.experiments.runs import TrainedRun
from keras_svae.experiments.runs import config_for
from keras_svae.experiments.runs import run_name
from keras_svae.experiments.runs import train
from keras_svae.experiments.runs import trained_classifier
