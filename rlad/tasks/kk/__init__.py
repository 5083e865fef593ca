"""Knights and Knaves: the task, its generators (natural, compact, chain), the solver and the verifier."""
