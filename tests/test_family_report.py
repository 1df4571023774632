"""World-model families side by side in the calibration report."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))  # user_policies


def _kappa(real, imagined):
    """Cohen's kappa from its definition (observed vs chance agreement)."""
    real, imagined = np.ravel(real), np.ravel(imagined)
    observed = np.mean(real == imagined)
    chance = real.mean() * imagined.mean() + (1 - real.mean()) * (1 - imagined.mean())
    return (observed - chance) / (1 - chance)


def test_kappa_and_its_interval():
    from worldgym.evaluation.calibrate import kappa_interval

    rng = np.random.default_rng(0)
    real = rng.random((4, 60)) < 0.5
    imagined = np.where(rng.random((4, 60)) < 0.8, real, ~real)
    value, (low, high) = kappa_interval(real, imagined, samples=400)
    assert value == pytest.approx(_kappa(real, imagined))
    assert low < value < high and high - low < 0.5
    same, (low, high) = kappa_interval(real, real, samples=100)
    assert same == pytest.approx(1.0) and low == pytest.approx(1.0) and high == pytest.approx(1.0)


POLICIES = ("oracle", "weak", "frozen", "random", "user_policies:reach_pixels_32")


@pytest.fixture(scope="module")
def family_report(latent_run, reach_ensemble_run, tmp_path_factory):
    from worldgym.evaluation.paired import EvaluateConfig
    from worldgym.report import ReportConfig, make_report

    folder = tmp_path_factory.mktemp("family-report")
    evaluate_config = EvaluateConfig(task="Reach", checkpoint=str(reach_ensemble_run[1]),
                                     policies=POLICIES, episodes=6, workers=1,
                                     cache=str(folder / "cache"))  # fmt: skip
    report_config = ReportConfig(out=str(folder / "report"), bootstrap=50, imagined_episodes=0,
                                 compare=(str(latent_run[1]),))  # fmt: skip
    path, _ = make_report(evaluate_config, report_config, progress=False)
    return path.parent


def test_the_report_puts_the_families_side_by_side(family_report):
    metrics = json.loads((family_report / "metrics.json").read_text())
    families = metrics["families"]
    assert [model["label"] for model in families["models"]] == ["state-ensemble", "latent"]
    rows = families["rows"]
    assert [(row[0], row[1]) for row in rows] == [
        ("state-ensemble", "task predicate"), ("state-ensemble", "success head"),
        ("latent", "task predicate"), ("latent", "success head"),
    ]  # fmt: skip
    for model, row in zip(families["models"], rows[::2], strict=True):
        real = [p["real_success"] for p in model["policies"]]
        imagined = [p["imagined_success"] for p in model["policies"]]
        assert [p["policy"] for p in model["policies"]] == list(POLICIES)
        rho = stats.spearmanr(real, imagined).statistic
        if np.isfinite(rho):
            assert float(row[2].split()[0]) == pytest.approx(rho, abs=0.006)
        mae = np.mean(np.abs(np.subtract(real, imagined)))
        assert float(row[5].split()[0]) == pytest.approx(mae, abs=0.006)
    assert "state-ensemble model" in families["verdict"] and "latent model" in families["verdict"]
    html = (family_report / "report.html").read_text()
    assert "World-model families side by side" in html and "families.png" in html
    assert (family_report / "families.png").stat().st_size > 10_000


def test_the_family_videos_have_a_panel_per_world(family_report):
    import imageio.v3 as iio

    families = json.loads((family_report / "metrics.json").read_text())["families"]
    kinds = [video["kind"] for video in families["videos"]]
    assert kinds[:2] == ["best policy", "looks at pixels"]
    assert families["videos"][1]["policy"] == "user_policies:reach_pixels_32"
    for video in families["videos"]:
        assert (family_report / video["file"]).stat().st_size > 1000
    frame = iio.imread(family_report / "families_frame.png")
    assert frame.shape[1] == 3 * 192 + 2 * 6  # real | ensemble | latent, 192 pixels each


def test_a_comparison_needs_two_runs(reach_ensemble_run):
    from worldgym.evaluation.paired import EvaluateConfig
    from worldgym.report.families import evaluate_families

    with pytest.raises(ValueError, match="at least two world-model runs"):
        evaluate_families(EvaluateConfig(task="Reach"), [str(reach_ensemble_run[1])])
