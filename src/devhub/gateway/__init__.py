"""The gateway: the data plane that puts the portal's access rules in front of the APIs it lists.

Every call goes through the same steps: find the product (and API version) by host and path prefix
(`snapshot.Snapshot.route_for`; `routing` answers the same question for the portal), authenticate the
consumer (`auth`: API key, OAuth2 JWT, the try-it console's token, or keyless), check its rate limits and
quotas (`limits`: in memory, or Redis shared by several gateway processes), proxy it upstream (`proxy`,
`upstream`, `server`; the built-in sandbox when a product has no sandbox URL), and record it, refusals
included (`metering`: buffered, flushed in batches to `gateway_calls`).

Nothing on the per-request path reads the database: the access rules are an in-memory snapshot rebuilt
when the portal's access version row moves (`snapshot.SnapshotStore`), so a new key, a revocation or a
plan change reaches every gateway process within a second, without a restart or a message bus.
"""
