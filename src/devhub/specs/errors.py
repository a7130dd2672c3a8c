"""What is wrong with a definition: each problem with its file, source line and JSON pointer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from devhub.problems import Problem


def to_pointer(path: Iterable[str | int]) -> str:
    """A JSON pointer (RFC 6901) from path segments: ("paths", "/pets", "get") -> /paths/~1pets/get."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def from_pointer(pointer: str) -> tuple[str, ...]:
    """Path segments from a JSON pointer; raises ValueError when it does not start with '/'."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"{pointer!r} is not a JSON pointer")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/"))


@dataclass
class SpecError:
    """One problem. `pointer` is where in the document (the bundled one, for validation errors); `file`
    and `line` are where in the sources, when known."""

    message: str
    pointer: str = ""
    line: int | None = None
    file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"pointer": self.pointer, "line": self.line, "message": self.message, "file": self.file}

    def describe(self) -> str:
        """`file:line pointer: message`, as the CLI prints it."""
        where = self.file or "definition"
        if self.line:
            where += f":{self.line}"
        if self.pointer:
            where += f" {self.pointer}"
        return f"{where}: {self.message}"


class SpecInvalid(ValueError):
    """The definition cannot be published: it could not be read, bundled or validated."""

    def __init__(self, errors: Sequence[SpecError], *, status: int = 422, omitted: int = 0) -> None:
        self.errors = list(errors)
        self.status = status
        self.omitted = omitted
        super().__init__(self.summary())

    def summary(self, limit: int = 3) -> str:
        if not self.errors:
            return "the definition is invalid"
        shown = "; ".join(error.describe() for error in self.errors[:limit])
        more = len(self.errors) - limit + self.omitted
        count = len(self.errors) + self.omitted
        head = f"{count} problem{'s' if count != 1 else ''} in the definition: "
        return head + shown + (f" (and {more} more)" if more > 0 else "")

    def to_problem(self) -> Problem:
        title = "Definition too large" if self.status == 413 else "Invalid API definition"
        return Problem(
            self.status,
            title,
            self.summary(),
            errors=[error.to_dict() for error in self.errors],
            omitted_errors=self.omitted,
        )


def invalid(message: str, *, file: str | None = None, line: int | None = None, pointer: str = "") -> SpecInvalid:
    return SpecInvalid([SpecError(message, pointer=pointer, line=line, file=file)])
