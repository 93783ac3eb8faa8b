"""The scaling-law sweep's summary and reports, and the paper's tables they quote."""

import json

import numpy as np
import pytest

from conftest import REPO
from keras_svae.experiments import paper, scaling_laws

DOCS = REPO / "docs" / "scaling_laws"


def test_the_papers_sigma_vae_ratios_reproduce_its_quoted_mean_and_std():
    ratios = np.array(paper.sigma_vae_ratios())
    # Section 5 quotes -0.481 +- 0.045 for the sigma-VAE; the population std (ddof=0).
    assert ratios.mean() == pytest.approx(paper.TABLES["gaussian"]["ratio_mean"], abs=5e-4)
    assert ratios.std() == pytest.approx(paper.TABLES["gaussian"]["ratio_std"], abs=5e-4)
    ratios = np.array(paper.TABLE_4_ALPHA_RATIO)
    assert ratios.mean() == pytest.approx(paper.TABLES["laplace"]["ratio_mean"], abs=5e-4)


def test_paper_values_are_looked_up_on_the_grid_only():
    assert paper.value("gaussian", "kl", 0.9) == 8.61
    assert paper.value("gaussian", "mse", 0.1) == 1.97
    assert paper.value("laplace", "kl", 0.3) == 40.3
    assert paper.value("laplace", "mse", 0.3) is None  # The paper gives no alpha-VAE MSE.
    assert paper.value("gaussian", "kl", 0.35) is None and paper.value("gaussian", "kl", 1.0) is None


def planted_metrics(scales, nu=1.2, mse_slope=20.0):
    """Test metrics whose D_KL follows scale^-nu exactly, with eq. 7's L."""
    kl = 9.0 * np.asarray(scales) ** -nu
    mse = mse_slope * np.asarray(scales)
    return [dict(kl=k, mse=m, elbo=-(m / (2 * s**2) + k)) for s, k, m in zip(scales, kl, mse)]


def test_summary_rows_fit_and_ratio():
    scales = [0.1, 0.3, 0.5, 0.9]
    summary = scaling_laws.summarize("gaussian", scales, planted_metrics(scales),
                                     wall_seconds=[10, 20, 30, 40])
    assert summary["fit"]["nu"] == pytest.approx(1.2)
    assert summary["fit"]["r_squared"] == pytest.approx(1.0)
    ratios = [r["kl"] / r["elbo"] for r in summary["rows"]]
    assert [r["ratio"] for r in summary["rows"]] == pytest.approx(ratios)
    assert summary["ratio_mean"] == pytest.approx(np.mean(ratios))
    assert summary["ratio_std"] == pytest.approx(np.std(ratios))  # Population std.
    assert [r["wall_seconds"] for r in summary["rows"]] == [10, 20, 30, 40]
    with pytest.raises(ValueError, match="noise must be one of"):
        scaling_laws.summarize("bernoulli", scales, planted_metrics(scales))
    with pytest.raises(ValueError, match="4 scales but 3 sets of metrics"):
        scaling_laws.summarize("gaussian", scales, planted_metrics(scales)[:3])


def test_report_files_and_the_papers_values_beside_ours(tmp_path):
    scales = [0.1, 0.5, 0.9]
    summary = scaling_laws.summarize("gaussian", scales, planted_metrics(scales))
    table = scaling_laws.write_report(summary, str(tmp_path / "sweep"))
    assert json.loads((tmp_path / "sweep.json").read_text()) == json.loads(json.dumps(summary))
    assert (tmp_path / "sweep.md").read_text() == table
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    row = next(line for line in table.splitlines() if line.startswith("| 0.9 |"))
    assert "| 8.61 |" in row and "| 20.7 |" in row  # Tables 1 and 2 at sigma = 0.9.
    assert "paper: ν ≈ 1.15" in table and "| – |" in table  # No wall times given.


@pytest.mark.parametrize("noise", ["gaussian", "laplace"])
def test_the_committed_tables_regenerate_byte_for_byte_from_their_json(noise):
    """docs/scaling_laws: the .md is what the library writes from the .json beside it."""
    stem = DOCS / f"scaling_{noise}_cpu"
    summary = json.loads(stem.with_suffix(".json").read_text())
    assert scaling_laws.markdown_table(summary) == stem.with_suffix(".md").read_text()
