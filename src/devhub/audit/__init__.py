"""The audit trail: security-relevant events, chained by hash so tampering shows."""
