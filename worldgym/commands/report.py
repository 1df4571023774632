"""`worldgym report`: evaluate, calibrate and write the HTML/Markdown report with videos."""

from __future__ import annotations

from worldgym.config import config_from_args
from worldgym.evaluation.paired import EvaluateConfig
from worldgym.report import ReportConfig, print_headline

NAME = "report"
HELP = "Evaluate, calibrate and write the HTML/Markdown report with videos."
TASK = ("task",)


def configs(family: str) -> tuple:
    """(config class, positional fields) of the options."""
    del family
    return ((EvaluateConfig, TASK), (ReportConfig, ()))


def run(args) -> int:
    from worldgym.report import make_report

    path, calibration = make_report(
        config_from_args(EvaluateConfig, args), config_from_args(ReportConfig, args)
    )
    print_headline(calibration)
    print(f"\nreport: {path}")
    return 0
