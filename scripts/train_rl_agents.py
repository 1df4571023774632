"""Re-make the zoo's imagination-trained agents: PPO agents trained only inside each task's
default world model (runs/models/<task>, as `make demo` / `worldgym demo --task T`
make it), with and without the uncertainty penalty.

    python scripts/train_rl_agents.py              # Reach and Push, writes policies/weights/

They are policies optimised *against* a model, the hardest test of its verdicts, so
they are in the zoo (and each task's "imagined" set): every calibration report shows
whether the trust analysis catches the ones that exploit it. Each run is `worldgym rl`
with the settings below (its folder under runs/agents/ keeps the learning curve and
the check in both worlds).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from worldgym.files import atomic_file
from worldgym.rl.ppo import PPOConfig
from worldgym.rl.train import RLConfig, format_check, train_agent

WEIGHTS = Path(__file__).resolve().parents[1] / "policies" / "weights"
RECIPES = {
    "Reach": [("ppo-imagined", 250, 0.0), ("ppo-imagined-penalty5", 250, 5.0)],
    "Push": [("ppo-imagined", 1200, 0.0), ("ppo-imagined-penalty1", 1200, 1.0)],
}
"""(policy name, PPO updates, uncertainty penalty) per task."""


def description(task: str, steps: float, penalty: float) -> str:
    penalised = f"uncertainty penalty {penalty:g}" if penalty else "no uncertainty penalty"
    return (f"PPO trained only inside the default {task} world model ({steps / 1e6:.1f} M "
            f"imagined steps), {penalised}.")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(RECIPES))
    args = parser.parse_args()
    index_path = WEIGHTS / "index.json"
    index = json.loads(index_path.read_text())
    for task in args.tasks:
        entries = []
        for name, updates, penalty in RECIPES[task]:
            ppo = PPOConfig(updates=updates, uncertainty_penalty=penalty)
            summary = train_agent(RLConfig(task=task), ppo)
            print(f"{task}/{name}:\n{format_check(summary)}")
            file = f"{task}-{name}.npz"
            with atomic_file(WEIGHTS / file) as temp:
                shutil.copyfile(summary.out / "agent.npz", temp)
            entries.append({"name": name, "file": file,
                            "description": description(task, summary.imagined_steps, penalty),
                            "kind": "agent"})  # fmt: skip
        index[task] = [e for e in index.get(task, []) if e.get("kind") != "agent"] + entries
    with atomic_file(index_path) as temp:
        temp.write_text(json.dumps(index, indent=2) + "\n")


if __name__ == "__main__":
    main()
