"""`worldgym report`: evaluate, calibrate and write the HTML/Markdown report with videos."""

from __future__ import annotations

from worldgym.config import TASK, config_from_args
from worldgym.evaluation.paired import EvaluateConfig
from worldgym.report import ReportConfig, make_report, print_headline

NAME = "report"
HELP = "Evaluate, calibrate and write the HTML/Markdown report with videos."


CONFIGS = ((EvaluateConfig, TASK), (ReportConfig, ()))
"""(config class, positional fields) of the options."""


def run(args) -> int:

    path, calibration = make_report(
        config_from_args(EvaluateConfig, args), config_from_args(ReportConfig, args)
    )
    print_headline(calibration)
    print(f"\nreport: {path}")
    return 0
