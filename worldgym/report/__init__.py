"""The calibration report: words and tables, figures, side-by-side videos."""

from worldgym.report.document import ReportConfig, make_report, write_report
from worldgym.report.verdict import headline_rows, print_headline, verdict

__all__ = [
    "ReportConfig",
    "headline_rows",
    "make_report",
    "print_headline",
    "verdict",
    "write_report",
]
