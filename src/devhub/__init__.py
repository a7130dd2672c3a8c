"""devhub: a developer portal in one pip install."""

__version__ = "0.1.0"
