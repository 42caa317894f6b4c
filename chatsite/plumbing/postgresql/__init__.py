"""PostgreSQL for Django with a health check that costs no round trip (see `base`)."""
