"""Customer metrics computed in the warehouse: KPIs, their trend, cohorts and CLV curves."""
