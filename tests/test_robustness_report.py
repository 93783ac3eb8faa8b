"""The robustness reports: tables, JSON and plot from the curves' rows."""

import json

import pytest

from conftest import REPO
from keras_svae.experiments import robustness

DOCS = REPO / "docs" / "robustness"


@pytest.mark.parametrize("noise", ["gaussian", "laplace", "salt_and_pepper"])
def test_the_committed_tables_regenerate_byte_for_byte_from_their_json(noise):
    stem = DOCS / f"robustness_{noise}"
    report = json.loads(stem.with_suffix(".json").read_text())
    expected = ("Classifier accuracy on the clean test images: "
                f"{100 * report['clean_accuracy']:.2f}%\n\n" + robustness.tables(noise, report["rows"]))
    assert expected == stem.with_suffix(".md").read_text()


def test_write_report_writes_the_three_files(tmp_path):
    rows = [dict(estimator=name, level=level, accuracy=acc, mse=mse)
            for level, acc, mse in ((0.1, 0.9, 10.0), (0.5, 0.4, 30.0))
            for name in ("raw y", "model")]
    report = dict(noise="laplace", schedule="cpu", test_images=2, clean_accuracy=0.995, rows=rows)
    text = robustness.write_report(str(tmp_path / "r"), report)
    assert json.loads((tmp_path / "r.json").read_text()) == report
    md = (tmp_path / "r.md").read_text()
    assert md.startswith("Classifier accuracy on the clean test images: 99.50%") and text in md
    assert "| α_test | raw y | model |" in text and "| 0.5 | 40.0 | 40.0 |" in text
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_paper_estimators_load_each_model_once_and_pass_y_through_for_raw(tmp_path):
    asked = []

    class Model:
        def estimate(self, y, seed=None):
            return y * 0

    estimators = robustness.paper_estimators(lambda m, s: asked.append((m, s)) or Model())
    assert list(estimators) == [label for label, _, _ in robustness.ESTIMATORS]
    assert estimators["raw y"] is robustness.identity
    assert sorted(asked, key=str) == sorted(
        [(m, s) for _, m, s in robustness.ESTIMATORS if m], key=str)
