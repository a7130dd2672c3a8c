"""Outgoing mail: SMTP when configured, always recorded in the outbox (the admins' view when there is no SMTP)."""
