"""Code tasks and their jailed sandbox: programs run in bubblewrap, verdicts decided outside."""
