"""The spec-driven sandbox: every published OpenAPI version answered from its definition, behind the gateway."""
