"""A campaign's run state: one StrEnum naming each state, and the error for a refused change."""

from __future__ import annotations

from enum import StrEnum


class CampaignState(StrEnum):
    """Where a campaign is in its life; stored as its value in campaign.state."""

    DRAFT = "draft"
    LAUNCHING = "launching"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    CANCELLED = "cancelled"


# Each member is also a module-level name, as re.IGNORECASE is re.RegexFlag.IGNORECASE.
DRAFT = CampaignState.DRAFT
LAUNCHING = CampaignState.LAUNCHING
RUNNING = CampaignState.RUNNING
PAUSED = CampaignState.PAUSED
FINISHED = CampaignState.FINISHED
CANCELLED = CampaignState.CANCELLED


class CampaignStateError(Exception):
    """A campaign cannot make the change asked for in its current state."""
