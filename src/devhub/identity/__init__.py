"""Identity and access: accounts, sessions, tokens, teams and roles, SSO, SCIM, and the policy."""
