"""Where multi-file definitions come from: a directory, a zip (and the zips refused), a git repository."""

from __future__ import annotations

import io
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from devhub.specs import service, sources
from devhub.specs.errors import SpecInvalid
from devhub.specs.limits import Limits
from tests.specs.conftest import CORPUS, write_tree

SOCIAL = CORPUS / "asyncapi" / "social-media"
LIMITS = Limits()
PETSTORE_TEXT = (CORPUS / "oai" / "petstore.yaml").read_text()


def zip_of(files: dict[str, str | bytes], **infos) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(infos.get(name) or name, data)
    return buffer.getvalue()


def test_directory_with_main_reads_only_what_the_main_file_reaches(tmp_path):
    root = tmp_path / "social"
    shutil.copytree(SOCIAL, root)
    (root / "unrelated.yaml").write_text("not: [part, of, it]\n")
    main, files, parsed, _ = sources.from_path(root, "frontend/asyncapi.yaml", LIMITS)
    assert main == "frontend/asyncapi.yaml"
    assert sorted(files) == [
        "common/messages.yaml",
        "common/schemas.yaml",
        "common/servers.yaml",
        "frontend/asyncapi.yaml",
    ]
    prepared = service.prepare(main, files, parsed=parsed)
    assert prepared.format.label == "AsyncAPI 3.1.0" and len(prepared.operations) == 2


def test_directory_main_file_is_found_or_asked_for(tmp_path):
    write_tree(tmp_path / "one", {"openapi.yaml": (CORPUS / "oai" / "petstore.yaml").read_text(), "x.yaml": "a: 1\n"})
    assert sources.from_path(tmp_path / "one", None, LIMITS)[0] == "openapi.yaml"
    with pytest.raises(SpecInvalid) as excinfo:
        sources.from_path(SOCIAL, None, LIMITS)
    assert "several definition files" in str(excinfo.value) and "name the main one" in str(excinfo.value)
    with pytest.raises(SpecInvalid, match="no OpenAPI, Swagger or AsyncAPI file"):
        sources.from_path(write_tree(tmp_path / "none", {"a.yaml": "a: 1\n"}), None, LIMITS)


def test_a_single_file_is_its_own_tree_and_cannot_reach_its_neighbours(tmp_path):
    root = tmp_path / "social"
    shutil.copytree(SOCIAL, root)
    main, files, parsed, _ = sources.from_path(root / "backend" / "asyncapi.yaml", None, LIMITS)
    with pytest.raises(SpecInvalid) as excinfo:
        service.prepare(main, files, parsed=parsed)
    assert all("leaves the uploaded files" in e.message for e in excinfo.value.errors)


def test_symlinks_out_of_the_directory_are_not_followed(tmp_path):
    secret = write_tree(tmp_path / "secret", {"s.yaml": "password: hunter2\n"})
    root = write_tree(
        tmp_path / "spec",
        {"openapi.yaml": "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\nx-s: {$ref: './link.yaml'}\n"},
    )
    (root / "link.yaml").symlink_to(secret / "s.yaml")
    main, files, _, _ = sources.from_path(root, None, LIMITS)
    assert sorted(files) == ["openapi.yaml"]
    with pytest.raises(SpecInvalid, match="not among the uploaded files"):
        service.prepare(main, files)


def test_zip_with_a_top_folder(tmp_path):
    files = {f"social-media/{p.relative_to(SOCIAL).as_posix()}": p.read_text() for p in SOCIAL.rglob("*.yaml")}
    files["social-media/README.md"] = "ignored"
    files["social-media/backend/docs/index.md"] = "# Backend\n"
    files["social-media/backend/docs/guides/errors.md"] = "# Errors\n"
    files["social-media/backend/docs/logo.png"] = "not a page"
    files["social-media/backend/mkdocs.yml"] = "nav:\n  - guides/errors.md\n"
    files["social-media/docs/other.md"] = "# The root folder's docs, not the backend's\n"
    main, read, _, guides = sources.from_zip(zip_of(files), "backend/asyncapi.yaml", LIMITS)
    assert main == "backend/asyncapi.yaml" and "common/schemas.yaml" in read and "README.md" not in read
    assert service.prepare(main, read).format.version == "3.1.0"
    assert guides == {
        "index.md": "# Backend\n",
        "guides/errors.md": "# Errors\n",
        "mkdocs.yml": "nav:\n  - guides/errors.md\n",
    }


def test_the_docs_folder_next_to_the_main_file_of_a_tree(tmp_path):
    root = write_tree(
        tmp_path / "repo",
        {
            "api/openapi.yaml": PETSTORE_TEXT,
            "api/docs/index.md": "# Start\n",
            "api/docs/.hidden/notes.md": "# private notes\n",
            "api/docs/schema.json": "{}",
            "docs/elsewhere.md": "# not ours\n",
        },
    )
    (root / "api" / "docs" / "escape.md").symlink_to(root / "docs" / "elsewhere.md")
    assert sources.from_path(root / "api" / "openapi.yaml", None, LIMITS).guides == {"index.md": "# Start\n"}
    assert sources.from_path(root, "api/openapi.yaml", LIMITS).guides == {"index.md": "# Start\n"}
    bare = write_tree(tmp_path / "bare", {"openapi.yaml": PETSTORE_TEXT})
    assert sources.from_path(bare, None, LIMITS).guides == {}  # a folder without docs: its guides are removed
    many = write_tree(tmp_path / "many", {"openapi.yaml": PETSTORE_TEXT, **{f"docs/{i}.md": "x" for i in range(12)}})
    with pytest.raises(SpecInvalid, match="more than 10 pages"):
        sources.from_path(many, None, Limits(max_files=10))


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("/etc/passwd.yaml", "absolute"),
        ("../escape.yaml", "leaves the archive"),
        ("a/../../escape.yaml", "leaves the archive"),
        ("C:/windows.yaml", "absolute or Windows"),
        ("a\\b.yaml", "absolute or Windows"),
    ],
)
def test_unsafe_zip_entries_are_refused(name, fragment):
    info = zipfile.ZipInfo(name)
    with pytest.raises(SpecInvalid, match=fragment):
        sources.from_zip(zip_of({name: "a: 1\n"}, **{name: info}), None, LIMITS)


def test_zip_symlinks_are_refused():
    info = zipfile.ZipInfo("link.yaml")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(SpecInvalid, match="symbolic link"):
        sources.from_zip(zip_of({"link.yaml": "/etc/passwd"}, **{"link.yaml": info}), None, LIMITS)


def test_zip_bombs_and_big_zips_are_refused():
    bomb = zip_of({"openapi.yaml": "openapi: 3.0.0\n" + "#" * 5_000_000})
    assert len(bomb) < 50_000
    with pytest.raises(SpecInvalid, match="zip bomb") as excinfo:
        sources.from_zip(bomb, None, LIMITS)
    assert excinfo.value.status == 413
    with pytest.raises(SpecInvalid, match="expands to"):
        sources.from_zip(bomb, None, Limits(max_bytes=1_000_000))
    many = zip_of({f"f{i}.yaml": "a: 1\n" for i in range(20)})
    with pytest.raises(SpecInvalid, match="at most 10"):
        sources.from_zip(many, None, Limits(max_files=10))
    with pytest.raises(SpecInvalid, match="not a valid zip"):
        sources.from_zip(b"PK\x03\x04 not really", None, LIMITS)


def test_zips_that_lie_about_their_sizes_are_refused():
    data = bytearray(zip_of({"openapi.yaml": "openapi: 3.0.0\n" + "x: 1\n" * 50_000}))
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")  # declares 100 bytes uncompressed
    with pytest.raises(SpecInvalid, match="cannot be read"):
        sources.from_zip(bytes(data), None, Limits(max_bytes=100_000))
    encrypted = bytearray(zip_of({"openapi.yaml": "openapi: 3.0.0\n"}))
    central = encrypted.index(b"PK\x01\x02")
    encrypted[central + 8] |= 1  # the "encrypted" flag
    with pytest.raises(SpecInvalid, match="cannot be read"):
        sources.from_zip(bytes(encrypted), None, LIMITS)


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def make_repository(tmp_path: Path) -> Path:
    repository = tmp_path / "repo"
    shutil.copytree(SOCIAL, repository / "specs" / "social-media")
    (repository / "README.md").write_text("specs\n")
    _git("init", "-q", "-b", "main", cwd=repository)
    _git("add", ".", cwd=repository)
    _git("commit", "-q", "-m", "specs", cwd=repository)
    return repository


def test_git_repository_path(tmp_path, settings):
    repository = make_repository(tmp_path)
    target = f"git+file://{repository}//specs/social-media/public-api/asyncapi.yaml?ref=main"
    main, files, parsed, _ = sources.from_git(target, None, settings, LIMITS, trusted=True)
    assert main == "specs/social-media/public-api/asyncapi.yaml"
    assert "specs/social-media/common/messages.yaml" in files
    assert service.prepare(main, files, parsed=parsed).info.title == "Public API"

    folder = f"git+file://{repository}//specs/social-media?ref=main"
    main, *_ = sources.from_git(folder, "notification-service/asyncapi.yaml", settings, LIMITS, trusted=True)
    assert main == "specs/social-media/notification-service/asyncapi.yaml"

    with pytest.raises(SpecInvalid, match="not in the repository"):
        sources.from_git(f"git+file://{repository}//nope.yaml", None, settings, LIMITS, trusted=True)
    with pytest.raises(SpecInvalid, match="git clone"):
        sources.from_git(f"git+file://{tmp_path}/missing//x.yaml", None, settings, LIMITS, trusted=True)
