"""campaign-bot: personal fundraising asks over Telegram, measured against broadcasts."""
