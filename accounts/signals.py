"""What accounts tells the apps above it; they connect, accounts imports none of them."""
from django.dispatch import Signal

# Sent inside the erasure's transaction, before the user row goes, with `user` (the User) and
# `pseudonym` (what stays in its place): chat erases kept history, moderation replaces the
# handle in its records. A receiver that raises rolls the whole erasure back.
account_erasing = Signal()
