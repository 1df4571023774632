"""The report as a person sees it: a real headless browser lays it out at 1300 px.

Chromium (Debian's package; CI installs it) opens the report with a measuring
script appended and dumps the page: every rate cell must be one line, the policy
table must fit the window, and clicking a column's header must sort the rows.
Without a Chromium on the machine the test is skipped and says so.
"""

import re
import shutil
import subprocess

import numpy as np
import pytest

from worldgym.evaluation.calibrate import calibrate
from worldgym.evaluation.outcomes import Outcomes
from worldgym.evaluation.paired import Evaluation, PolicyEvaluation
from worldgym.evaluation.support import PolicySupport
from worldgym.report.document import write_report

BROWSER = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(name)), None)  # fmt: skip
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium here (CI installs it)")

MEASURE = """
<script>
window.addEventListener('load', () => {
  const table = document.querySelector('table.policies');
  let wrapped = 0;
  table.querySelectorAll('td.rate, td.name').forEach(cell => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    // rects that overlap vertically sit on one line (small print sits lower than
    // the rate beside it); a rect wholly below the line before starts a new one
    const rects = Array.from(range.getClientRects()).filter(r => r.width > 0)
      .sort((a, b) => a.top - b.top);
    let lines = rects.length ? 1 : 0, bottom = rects.length ? rects[0].bottom : 0;
    rects.slice(1).forEach(r => {
      if (r.top >= bottom - 1) { lines += 1; bottom = r.bottom; }
      else bottom = Math.max(bottom, r.bottom);
    });
    if (lines > 1) wrapped += 1;
  });
  const before = Array.from(table.tBodies[0].rows).map(r => r.cells[0].textContent);
  const header = Array.from(table.tHead.rows[0].cells).find(h => h.textContent === 'real success');
  header.click();
  const after = Array.from(table.tBodies[0].rows).map(r => r.cells[4].dataset.sort);
  document.body.dataset.wrapped = wrapped;
  document.body.dataset.tableRight = Math.ceil(table.getBoundingClientRect().right);
  document.body.dataset.pageWidth = document.documentElement.scrollWidth;
  document.body.dataset.sorted = after.join(',');
  document.body.dataset.rows = before.length;
});
</script>
"""


def crowded_evaluation(episodes: int = 50) -> Evaluation:
    """17 policies with long names, every kind of flag and data family, and rates
    whose intervals are at their widest ("100% [93%–100%]")."""
    rng = np.random.default_rng(0)
    names = ["oracle", "half-speed", "ppo-imagined-penalty1", "biased-6cm", "off-centre",
             "lab_reacher.policies:pd_numpy", *[f"policy-{i}" for i in range(11)]]  # fmt: skip
    supports = [PolicySupport(0.0, 0.0, 0.0), PolicySupport(0.3, 0.3, 0.1, 0.6, 0.2),
                PolicySupport(0.06, 0.06, 0.0, 0.73), None]  # fmt: skip
    families = ["family: noisy-oracle-0.1, noisy-oracle-0.25, perturbed-oracle", "-",
                "in the data", "unknown"]  # fmt: skip
    policies = []
    for index, name in enumerate(names):
        rate = rng.uniform(0, 1) if index else 1.0

        def outcomes(imagined, rate=rate):
            success = rng.random(episodes) < rate
            extra = {"success_probability": success * 1.0, "uncertainty": rng.random(episodes),
                     "diverged": np.zeros(episodes, bool),
                     "member_success": np.stack([success] * 3)} if imagined else {}  # fmt: skip
            return Outcomes(success, rng.normal(0, 20, episodes), np.zeros((episodes, 2, 1)),
                            np.ones(episodes, int), **extra)  # fmt: skip

        policies.append(PolicyEvaluation(
            name, "", "compiled" if index % 3 else "host", outcomes(False), outcomes(True),
            supports[index % len(supports)], False, families[index % len(families)]))  # fmt: skip
    return Evaluation("Push", "runs/models/push", "f" * 64, np.arange(episodes), policies)


def test_the_report_reads_at_a_glance_in_a_browser(tmp_path):
    evaluation = crowded_evaluation()
    page = write_report(evaluation, calibrate(evaluation, 50), tmp_path / "report", videos=False)
    checked = tmp_path / "report" / "checked.html"
    checked.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    result = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1300,2000", "--virtual-time-budget=3000", "--dump-dom",
         checked.as_uri()], capture_output=True, text=True, timeout=120)  # fmt: skip
    body = re.search(r"<body([^>]*)>", result.stdout)
    assert body is not None, result.stderr[-2000:]
    data = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert data["rows"] == "17"
    assert data["wrapped"] == "0", "a rate or a name wraps over two lines"
    assert int(data["table-right"]) <= 1300 and int(data["page-width"]) <= 1300
    rates = [float(value) for value in data["sorted"].split(",")]
    assert rates == sorted(rates) and len(set(rates)) > 5  # sorted by real success
    html = page.read_text()
    assert "17 policies × 50 episodes" in html  # the header counts every row
    assert "title='no training data to judge" in html  # the detail on hover
