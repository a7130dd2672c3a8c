"""Limits on what a definition may be: sizes, file counts, nesting. Read from settings when they are there.

The settings (`DEVHUB_SPEC_MAX_BYTES` ...) are looked up with `getattr`, so these defaults apply until
`Settings` declares the fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_BYTES = 10_000_000  # spec_max_bytes: all files of one definition together, and one upload
DEFAULT_MAX_FILES = 200  # spec_max_files: files in a multi-file definition (directory, zip, git path)
DEFAULT_MAX_DEPTH = 64  # spec_max_depth: nesting of one file; the bundled document may nest twice as deep
DEFAULT_MAX_NODES = 1_000_000  # spec_max_nodes: values one YAML file may expand to (alias bombs)
DEFAULT_MAX_ZIP_RATIO = 100  # spec_max_zip_ratio: uncompressed / compressed size of an uploaded zip
MAX_ERRORS = 100  # validation errors reported for one document; the rest are counted


@dataclass(frozen=True)
class Limits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_files: int = DEFAULT_MAX_FILES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_nodes: int = DEFAULT_MAX_NODES
    max_zip_ratio: int = DEFAULT_MAX_ZIP_RATIO

    @classmethod
    def from_settings(cls, settings: Any | None) -> Limits:
        if settings is None:
            return cls()
        return cls(
            max_bytes=int(getattr(settings, "spec_max_bytes", DEFAULT_MAX_BYTES)),
            max_files=int(getattr(settings, "spec_max_files", DEFAULT_MAX_FILES)),
            max_depth=int(getattr(settings, "spec_max_depth", DEFAULT_MAX_DEPTH)),
            max_nodes=int(getattr(settings, "spec_max_nodes", DEFAULT_MAX_NODES)),
            max_zip_ratio=int(getattr(settings, "spec_max_zip_ratio", DEFAULT_MAX_ZIP_RATIO)),
        )

    @property
    def max_bundled_depth(self) -> int:
        return self.max_depth * 2
