"""Notifications: a message in the portal for each person concerned, and the same by mail (the outbox)."""
