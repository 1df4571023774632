"""One table owns every range of reset seeds; the ranges never overlap."""

import itertools
import re
from pathlib import Path

import pytest

from worldgym import seeds
from worldgym.data.collect import CollectConfig
from worldgym.evaluation.estimation import IMAGINED_ONLY_SEED, EstimateConfig
from worldgym.evaluation.paired import EvaluateConfig
from worldgym.refine import REFINE_SEED
from worldgym.rl.train import START_SEED

ROOT = Path(__file__).resolve().parents[1]


def test_the_ranges_are_disjoint_and_non_empty():
    for entry in seeds.TABLE:
        assert entry.first < entry.stop
    for a, b in itertools.combinations(seeds.TABLE, 2):
        assert a.stop <= b.first or b.stop <= a.first, (a.name, b.name)


def test_every_command_draws_from_its_own_range():
    assert EvaluateConfig().seed in seeds.TEST
    assert CollectConfig().seed in seeds.COLLECTION
    assert EstimateConfig().seed in seeds.ESTIMATE
    assert IMAGINED_ONLY_SEED in seeds.IMAGINED_ONLY
    assert REFINE_SEED in seeds.REFINE and START_SEED in seeds.RL_STARTS
    # the default evaluation (100 episodes) stays inside the test range
    assert EvaluateConfig().seed + 100 <= seeds.TEST.stop


def test_no_module_names_a_seed_number_of_its_own():
    """A literal like `X_SEED = 5_000_000` outside worldgym/seeds.py is a second table."""
    literal = re.compile(r"(_SEED\s*=\s*[\d_]{4,}|seed: int = [\d_]{4,})")
    offenders = [
        str(path.relative_to(ROOT)) for folder in ("worldgym", "scripts", "policies", "envs")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "seeds.py" and literal.search(path.read_text())
    ]  # fmt: skip
    assert offenders == []


def test_describe_names_the_range():
    assert seeds.describe(range(100)) == "test seeds 0-99"
    assert seeds.describe([200_000]) == "dev seeds 200,000"
    assert "dev, test" in seeds.describe([5, 200_005])
    assert seeds.range_of(9_999_999) is None


def test_seeds_outside_a_range_are_refused():
    with pytest.raises(ValueError, match="leave the test range"):
        seeds.TEST.seeds(10, offset=99_995)
    assert list(seeds.DEV.seeds(3)) == [200_000, 200_001, 200_002]
