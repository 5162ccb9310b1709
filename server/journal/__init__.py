"""The durable job journal: one interface, SQLite for one machine, PostgreSQL for a team."""
