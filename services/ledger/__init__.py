"""The ledger: every trade event stored exactly once, and each trade's current state, queryable."""
