"""The playbook store: runs, calls, entries and their reviews in SQLite or PostgreSQL. `core`
holds the Store; each other module one family of queries or one backend difference."""
