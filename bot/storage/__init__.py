"""SQLModel tables and the queries over them: the only place with select()."""
