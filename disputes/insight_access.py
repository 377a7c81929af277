"""Insights for people: the permission is checked before a report is read."""

from __future__ import annotations

from disputes.audit import Actor
from disputes.insight_report import Insights, Period
from disputes.insights import InsightsService
from disputes.permissions import Gate
from domain.roles import Action


class InsightsAccess:
    """`/dispute insights`: the roles file's `view_insights` decides who sees the numbers."""

    def __init__(self, insights: InsightsService, gate: Gate) -> None:
        self.insights = insights
        self.gate = gate

    async def report(self, period: Period, actor: Actor) -> Insights:
        """The period's report, or `NotAllowed` for someone who may not see insights."""
        await self.gate.require(Action.VIEW_INSIGHTS, actor)
        return await self.insights.report(period)
