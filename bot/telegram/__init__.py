"""python-telegram-bot glue: the application, handlers and the sender."""
