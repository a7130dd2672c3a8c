"""Reference docs rendered from published definitions, code samples, guides and docs-as-code pages."""
