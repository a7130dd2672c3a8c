"""Settings: `DEVHUB_*` environment variables, then an optional TOML file, then defaults.

The config file is `DEVHUB_CONFIG` when set, else `devhub.toml` in the data directory when it exists.
The secret key, when not given, is generated once and kept in the data directory (mode 0600), so
restarts and several processes sharing the data directory agree on it.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# Lists set from the environment as `a,b,c` (split by `_split_commas`), not as JSON, which pydantic-settings
# would otherwise expect; a JSON list in a TOML file is a list already.
CommaList = Annotated[list[str], NoDecode]


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "devhub"


def _config_file() -> Path | None:
    explicit = os.environ.get("DEVHUB_CONFIG")
    if explicit:
        return Path(explicit)
    data_dir = Path(os.environ.get("DEVHUB_DATA_DIR") or default_data_dir())
    candidate = data_dir / "devhub.toml"
    return candidate if candidate.exists() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEVHUB_", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir, description="Where SQLite, the secret key and clones live."
    )
    database_url: str | None = Field(None, description="SQLAlchemy URL; SQLite in the data directory when unset.")
    redis_url: str | None = Field(None, description="Redis for shared counters and cache invalidation; optional.")
    base_url: str = Field("http://127.0.0.1:8000", description="Public URL of the portal, used in links.")
    secret_key: str | None = Field(None, description="Signs sessions and tokens; generated on first run if unset.")
    host: str = "127.0.0.1"
    port: int = 8000

    page_size: int = Field(25, ge=1, le=200, description="Default page size of every list.")
    max_page_size: int = Field(100, ge=1, le=1000)

    import_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Local directories that the REST API and UI may import catalog files from. "
        "The CLI may import any path; the web may not read the server's files outside these.",
    )
    catalog_allowed_hosts: CommaList = Field(
        default_factory=list,
        description="Hosts that URL and git imports may read from. Empty: any public host; "
        "loopback and private addresses only when listed here.",
    )
    catalog_max_file_bytes: int = Field(5_000_000, ge=1024, description="Largest catalog file read.")
    catalog_max_files: int = Field(20_000, ge=1, description="Most files one location may expand to.")
    catalog_refresh_seconds: int = Field(300, ge=0, description="Refresh period of locations; 0 turns it off.")
    git_timeout_seconds: int = Field(60, ge=1)
    http_timeout_seconds: float = Field(10.0, gt=0)

    # Publishing API definitions
    spec_max_bytes: int = Field(10_000_000, ge=1024, description="Largest definition (all its files) accepted.")
    spec_max_files: int = Field(200, ge=1, description="Most files one multi-file definition may have.")
    spec_max_depth: int = Field(64, ge=8, description="Deepest nesting accepted in a definition.")
    spec_max_nodes: int = Field(1_000_000, ge=1000, description="Most YAML nodes a definition may expand to.")
    spec_max_zip_ratio: int = Field(100, ge=1, description="Largest uncompressed/compressed ratio of a zip upload.")
    spec_url_refs: str = Field(
        "keep",
        pattern="^(keep|refuse)$",
        description="$refs to http(s) URLs: kept as links (never fetched) or refused.",
    )
    governance_ruleset: str | None = Field(
        None, description="The organisation's lint rules and publish gate policy (a YAML file); built-in when unset."
    )

    # Accounts and sign-in
    signup_policy: str = Field(
        "open",
        pattern="^(open|invite|domains|closed)$",
        description="Who may sign up: anyone, invited emails, allowed domains, or nobody.",
    )
    signup_allowed_domains: CommaList = Field(default_factory=list, description="For signup_policy=domains.")
    signup_auto_approve: bool = Field(False, description="Approve new developers at once instead of by an admin.")
    admin_emails: CommaList = Field(default_factory=list, description="Accounts with these emails are admins.")
    session_hours: int = Field(12, ge=1, description="How long a sign-in lasts.")
    login_max_failures: int = Field(5, ge=1, description="Failed sign-ins per email or IP before throttling.")
    login_window_seconds: int = Field(900, ge=1, description="The window those failures are counted over.")
    default_visibility: str = Field(
        "internal",
        pattern="^(public|internal|private)$",
        description="Visibility of entities that do not set devhub.io/visibility.",
    )
    token_max_days: int = Field(365, ge=1, description="Longest lifetime of a personal access token.")
    # Self-serve access: credentials and OAuth2 tokens
    key_rotation_grace_hours: int = Field(
        24, ge=0, description="How long a rotated API key or client secret keeps working."
    )
    oauth_token_seconds: int = Field(900, ge=60, le=86400, description="Lifetime of an OAuth2 access token.")
    oauth_audience: str = Field("devhub-gateway", description="The `aud` of access tokens; the gateway checks it.")
    # The gateway (data plane)
    gateway_key_headers: CommaList = Field(
        default_factory=lambda: ["x-api-key"], description="Request headers the gateway reads API keys from."
    )
    gateway_redis_failure: str = Field(
        "open",
        pattern="^(open|closed)$",
        description="When Redis (shared rate limits) is down: let calls through (open) or refuse them (closed).",
    )
    gateway_host: str = Field("127.0.0.1", description="Interface the gateway listens on.")
    gateway_port: int = Field(8080, ge=0, le=65535, description="Port of the gateway (the data plane).")
    gateway_workers: int = Field(1, ge=1, description="Gateway processes sharing the port (SO_REUSEPORT).")
    gateway_connect_timeout: float = Field(5.0, gt=0, description="Seconds to connect to an upstream (else 504).")
    gateway_read_timeout: float = Field(
        30.0, gt=0, description="Seconds to wait for an upstream's response head or next body bytes (else 504)."
    )
    gateway_breaker_failures: int = Field(5, ge=1, description="Consecutive upstream failures that open its breaker.")
    gateway_breaker_seconds: float = Field(10.0, gt=0, description="How long an open breaker refuses calls (503).")
    gateway_poll_seconds: float = Field(0.25, gt=0, description="How often the gateway checks for access changes.")
    gateway_shutdown_seconds: float = Field(10.0, ge=0, description="Grace for in-flight calls on shutdown.")
    gateway_url: str | None = Field(None, description="Public gateway URL (console curl); unset: http://host:port.")
    sandbox_url: str | None = Field(None, description="Portal URL for built-in sandbox calls; else base_url.")
    # Usage analytics: roll-ups of gateway calls and how long each resolution is kept
    usage_rollup_seconds: float = Field(5.0, ge=0, description="Period of the usage roll-up loop; 0 turns it off.")
    usage_rollup_batch: int = Field(50_000, ge=100, description="Most gateway calls one roll-up transaction reads.")
    usage_minute_retention_hours: int = Field(48, ge=1, description="How long minute buckets are kept.")
    usage_hour_retention_days: int = Field(90, ge=1, description="How long hour buckets are kept.")
    usage_day_retention_days: int = Field(800, ge=1, description="How long day buckets are kept.")
    usage_gap_grace_seconds: int = Field(
        300, ge=1, description="Longest wait for a call id still being written before the roll-up passes it."
    )
    calls_retention_days: int = Field(
        30, ge=0, description="Days raw gateway calls are kept once rolled up (pruned hourly); 0 keeps them forever."
    )
    # Mail (no host: messages only land in the outbox, which admins read in the portal)
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    mail_from: str = "devhub <devhub@localhost>"
    # Single sign-on with OpenID Connect
    oidc_issuer: str | None = Field(None, description="Issuer URL; discovery is read from it.")
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid email profile"
    oidc_groups_claim: str = Field("groups", description="Claim whose values name catalog Groups (teams).")
    oidc_button_label: str = "Sign in with SSO"
    # SCIM provisioning: the bearer token an identity provider presents
    scim_token: str | None = Field(None, description="Bearer token for /scim/v2; SCIM is off when unset.")
    # Service level objectives: evaluation period, burn-rate alert threshold, where alert webhooks may go and
    # how long a rotated webhook signing secret still signs
    slo_evaluate_seconds: int = Field(60, ge=0, description="How often SLOs are evaluated; 0 turns it off.")
    slo_burn_rate: float = Field(2.0, gt=0, description="Alert when the budget burns this many times too fast.")
    slo_webhook_allowed_hosts: CommaList = Field(
        default_factory=list,
        description="Hosts SLO alert webhooks may post to. Empty: any public host; loopback and private "
        "addresses only when listed here.",
    )
    webhook_rotation_grace_hours: int = Field(
        24, ge=0, description="How long a rotated SLO webhook signing secret keeps signing beside the new one."
    )
    # Sandbox: what it remembers per credential and API version (items created by POST), and how large
    sandbox_max_items: int = Field(500, ge=10, description="Most items kept per credential and API version.")
    sandbox_max_item_bytes: int = Field(65536, ge=1024, description="Largest item body the sandbox keeps.")

    @field_validator(
        "import_roots",
        "catalog_allowed_hosts",
        "signup_allowed_domains",
        "admin_emails",
        "gateway_key_headers",
        "slo_webhook_allowed_hosts",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = _config_file()
        if config is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'devhub.sqlite3'}"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        return _load_or_create_secret(self.data_dir / "secret_key")


def _load_or_create_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
