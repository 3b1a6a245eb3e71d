"""Use cases that join the domain, storage and the Telegram sender."""
