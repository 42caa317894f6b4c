"""Keeping in touch: contacts made by mutual consent, letters, invitations, web push."""
