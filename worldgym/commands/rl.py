"""`worldgym rl`: train a PPO agent inside a world model, then check it in both worlds."""

from __future__ import annotations

from worldgym.config import TASK, config_from_args
from worldgym.rl.ppo import PPOConfig
from worldgym.rl.train import RLConfig, format_check, train_agent

NAME = "rl"
HELP = "Train a PPO agent inside a world model, then check it in both worlds."


CONFIGS = ((RLConfig, TASK), (PPOConfig, ()))
"""(config class, positional fields) of the options."""


def run(args) -> int:
    print(format_check(train_agent(config_from_args(RLConfig, args),
                                   config_from_args(PPOConfig, args))))  # fmt: skip
    return 0
