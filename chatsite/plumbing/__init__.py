"""Project-wide plumbing below every app: Redis clients, rate limits, health, middleware,
the channel layer, daphne's send buffers, encryption at rest and the log filter.

Nothing here imports `accounts`, `moderation` or `chat` (the import-linter contracts in
pyproject.toml hold every app above this package)."""
