"""Jobs over the journal: claimed by one process, followed at the provider, saved once."""
