"""`worldgym train`: train a world model on a dataset (resumes an interrupted run)."""

from __future__ import annotations

from worldgym.config import config_from_args
from worldgym.devices import is_main_process
from worldgym.models import get_family
from worldgym.training.train import TrainConfig, train

NAME = "train"
HELP = "Train a world model on a dataset (resumes an interrupted run)."


CONFIGS = ((TrainConfig, ("dataset",)),)
"""(config class, positional fields) of the options; the chosen family's own
config is added by the command line (worldgym.cli), which reads --family first."""


def run(args) -> int:

    config = config_from_args(TrainConfig, args)
    family = get_family(config.family)
    result = train(config, config_from_args(family.Config, args))
    if not is_main_process():
        print("this process trained on its share of every minibatch; process 0 wrote the run")
        return 0
    best = result.best
    print(
        f"loaded {result.transitions} transitions in {result.load_seconds:.2f} s; "
        f"trained {result.epochs} epochs"
        + (" (stopped early)" if result.stopped_early else "")
        + f"; best validation loss {best.get('validation_loss', float('nan')):.4f} "
        f"at epoch {best.get('epoch')}; {result.samples_per_second:.0f} samples/s "
        f"-> {result.out}"
    )
    return 0
