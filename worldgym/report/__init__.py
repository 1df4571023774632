"""The calibration report: words and tables, figures, side-by-side videos."""

from worldgym.report.document import (
    ReportConfig,
    headline_rows,
    make_report,
    print_headline,
    verdict,
    write_report,
)

__all__ = [
    "ReportConfig",
    "headline_rows",
    "make_report",
    "print_headline",
    "verdict",
    "write_report",
]
