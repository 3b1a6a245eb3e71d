"""campaign-bot: personal one-to-one fundraising asks over Telegram, measured against broadcasts."""
