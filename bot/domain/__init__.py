"""Pure campaign logic: no Telegram, no database, no clock."""
