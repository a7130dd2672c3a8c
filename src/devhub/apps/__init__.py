"""Self-serve access: products and plans offered by API owners, applications registered by developers,
subscriptions with approval, and the credentials (API keys, OAuth2 client credentials) the gateway checks."""
