"""Signal receivers of the contacts app (filled in below)."""
