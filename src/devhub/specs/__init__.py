"""API definitions: publishing, validating, bundling and versioning OpenAPI, Swagger and AsyncAPI documents."""
