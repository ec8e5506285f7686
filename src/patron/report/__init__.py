"""The customer report: one self-contained HTML file of KPIs, cohorts, segments, predicted
value and findings.

``write_report(ws, out)`` is the entry point; :mod:`patron.report.data` gathers the numbers
from the Workspace API, the chart, finding and glossary modules turn them into content, and
:mod:`patron.report.render` fills the template.
"""

from patron.report.render import render_report, write_report

__all__ = ["render_report", "write_report"]
