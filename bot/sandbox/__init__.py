"""A local HTTP server that speaks the Telegram Bot API, for the demo and the tests."""
