"""Insights: the KPIs and analyses of one period, read from the stored disputes."""

from __future__ import annotations

from datetime import datetime

from disputes.insight_report import Insights, Period, TrendPoint
from policies.sla import SlaPolicy
from storage.db import Database


class InsightsService:
    def __init__(self, db: Database, sla: SlaPolicy) -> None:
        self.db = db
        self.sla = sla

    async def report(self, period: Period) -> Insights:
        raise NotImplementedError

    async def trend(self, end: datetime, weeks: int = 8) -> list[TrendPoint]:
        """The `weeks` whole weeks before `end`, oldest first."""
        raise NotImplementedError
