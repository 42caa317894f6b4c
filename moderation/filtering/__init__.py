"""The pure text filter: folding, word lists, contact patterns and harm rules.

It decides what a text is (masked words, contact details, harm categories) and nothing else:
it imports no models and nothing of reports, decisions, bans or analysis (an import-linter
contract in pyproject.toml), so it runs on any text without a database."""
