"""The campaign specs and saved answers in force: the last good version of each file."""

from __future__ import annotations

import threading
from pathlib import Path

from bot.domain.answers import ANSWERS_FILE, SavedAnswer, load_answers
from bot.domain.campaign import SpecError, load_campaigns
from bot.domain.spec import Campaign


class CampaignRegistry:
    """Hold the loaded campaign specs; a reload never replaces a good spec with a broken file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._campaigns: dict[str, Campaign] = {}
        self._answers: dict[str, SavedAnswer] = {}
        self.errors: list[SpecError] = []
        # /reload validates in a worker thread; two at once would race to set the result.
        self._reloading = threading.Lock()

    @property
    def campaigns(self) -> dict[str, Campaign]:
        """Return the specs in force by name."""
        return dict(self._campaigns)

    def get(self, name: str) -> Campaign | None:
        """Return the spec called name, if one is loaded."""
        return self._campaigns.get(name)

    @property
    def answers(self) -> dict[str, SavedAnswer]:
        """Return the saved answers in force by key, in file order."""
        return dict(self._answers)

    def names(self) -> list[str]:
        """List the names of the loaded campaigns, sorted."""
        return sorted(self._campaigns)

    def reload(self) -> list[SpecError]:
        """Re-read the directory and return its problems.

        Valid files replace their old version; a file that now fails keeps the campaign it
        last loaded, so a typo saved mid-campaign never takes a running campaign away. Safe to
        call from a worker thread.
        """
        with self._reloading:
            loaded = load_campaigns(self.directory)
            broken = {error.file for error in loaded.errors}
            fresh = dict(loaded.campaigns)
            for name, old in self._campaigns.items():
                if name not in fresh and old.source_file in broken:
                    fresh[name] = old
            # Readers on the event loop see the old or the new specs, never a mix.
            self._campaigns = fresh
            # The answers file is all or nothing: a broken one keeps the answers last loaded.
            answers = load_answers(self.directory / ANSWERS_FILE)
            if not answers.errors:
                self._answers = answers.answers
            self.errors = list(loaded.errors) + answers.errors
            return self.errors

    def kept_after_errors(self) -> list[str]:
        """List the campaigns whose file failed and whose last good version is still used."""
        broken = {error.file for error in self.errors}
        return sorted(n for n, c in self._campaigns.items() if c.source_file in broken)
