"""The settings every service reads, from the environment (prefix ``WILDLENS_``, groups nested
with ``__``): mode, data folder, database, broker, storage, auth, the services' addresses, logging.

Backends are chosen by URL and URLs carry no secrets: passwords and keys have their own
variables so that a Kubernetes Secret can supply them. A service's own settings are its group
(:class:`~wildlens.common.settings.SettingsGroup`), added to these by
:func:`~wildlens.common.settings.compose_settings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from wildlens.common.settings.group import SettingsGroup

__all__ = [
    "AuthSettings",
    "BrokerSettings",
    "DatabaseSettings",
    "ExternalIssuerSettings",
    "LimitSettings",
    "ServicesSettings",
    "Settings",
    "StorageSettings",
]


class DatabaseSettings(BaseModel):
    password: SecretStr | None = None
    # Prepended to every service's schema (PostgreSQL) or file name (SQLite); tests isolate
    # themselves with it.
    schema_prefix: str = ""
    # Connections each process keeps open; a few more are opened for a burst and closed
    # after it (``db.engine``).
    pool_size: int = 10
    echo: bool = False


class BrokerSettings(BaseModel):
    username: str | None = None
    password: SecretStr | None = None
    exchange: str = "wildlens.events"
    # Prepended to every queue name; tests isolate themselves with it.
    queue_prefix: str = ""
    max_deliveries: int = Field(default=5, ge=1)
    prefetch: int = Field(default=32, ge=1)
    # How long a consumer keeps calling a handler again, with pauses, while it fails because a
    # backend does not answer (the database restarting, storage down), before that failure
    # spends one of the message's deliveries. Keep it under RabbitMQ's consumer timeout
    # (30 minutes by default), which closes a channel holding a message longer.
    retry_unavailable_s: float = Field(default=300, ge=0)
    # How long a service's outbox relay waits after a commit before it publishes, so that
    # commits close together go out as one batch (``db.outbox.OutboxRelay``). 0 publishes after
    # every commit at once, at a cost in CPU under steady uploads.
    outbox_linger_ms: float = Field(default=20, ge=0, le=1000)


class StorageSettings(BaseModel):
    access_key: str | None = None
    secret_key: SecretStr | None = None
    public_endpoint: str | None = None
    create_bucket: bool = True
    # HMAC key for signed object routes in embedded mode; generated in the data dir if unset.
    signing_key: SecretStr | None = None


# Prefixes the platform's own subjects use; an identity provider named so could pass its users
# off as services or gateways in logs and audit records.
_RESERVED_ISSUER_NAMES = frozenset({"service", "gateway", "wildlens"})


class ExternalIssuerSettings(BaseModel):
    """An identity provider whose JWTs ``POST /v1/auth/token`` exchanges for Wildlens tokens."""

    model_config = ConfigDict(extra="forbid")

    # The ``iss`` claim its tokens carry, exactly.
    issuer: str = Field(min_length=1)
    jwks_url: str = Field(pattern=r"^https?://")
    # Accepted ``aud`` values: at least one must be in the token.
    audience: str | list[str]
    # The claim that names the user (some providers put a stable id elsewhere than ``sub``).
    subject_claim: str = "sub"
    # Prefix of the Wildlens subjects of its users (``<name>:<sub>``), which memberships name.
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,39}$")

    @model_validator(mode="after")
    def _name_not_reserved(self) -> ExternalIssuerSettings:
        if self.name in _RESERVED_ISSUER_NAMES:
            raise ValueError(f"issuer name {self.name!r} is reserved")
        return self


class AuthSettings(BaseModel):
    issuer: str = "wildlens"
    private_key: SecretStr | None = None
    private_key_file: Path | None = None
    public_key: str | None = None
    public_key_file: Path | None = None
    # Shared by the services to obtain service tokens from the catalogue (distributed mode;
    # embedded mode signs them in-process).
    service_secret: SecretStr | None = None
    token_ttl_s: int = 3600
    device_token_ttl_s: int = 60 * 60 * 24 * 365 * 5
    # Identity providers trusted for token exchange (JSON in WILDLENS_AUTH__EXTERNAL_ISSUERS).
    external_issuers: list[ExternalIssuerSettings] = []
    # A provider's keys are fetched again after this long, and when a token names a key id
    # not seen yet, but never more often than the minimum interval, so that tokens with made-up
    # key ids cannot turn the catalogue against the provider.
    jwks_max_age_s: float = Field(default=3600, gt=0)
    jwks_min_refetch_s: float = Field(default=30, ge=0)
    jwks_timeout_s: float = Field(default=5, gt=0)

    @model_validator(mode="after")
    def _issuer_names_unique(self) -> AuthSettings:
        names = [i.name for i in self.external_issuers]
        issuers = [i.issuer for i in self.external_issuers]
        if len(set(names)) != len(names) or len(set(issuers)) != len(issuers):
            raise ValueError("external issuers need distinct names and issuer values")
        return self


class ServicesSettings(BaseModel):
    """Where the other services' APIs are, in distributed mode (in-process when embedded)."""

    catalogue_url: str | None = None
    ingest_url: str | None = None
    citsci_url: str | None = None
    training_url: str | None = None
    inference_url: str | None = None


class LimitSettings(BaseModel):
    """What one request may make a process read, unpack and parse (``WILDLENS_LIMITS__*``).

    The defaults fit a pod of two cores and a few GB of memory: a hostile request is refused
    within seconds, in bounded memory, while health checks keep answering. Larger imports
    belong in bulk uploads, processed as jobs, not inside one request.
    """

    # A JSON (or any non-multipart) request body; larger is refused (413) before it is read.
    json_body_bytes: int = Field(default=8 << 20, ge=1024)
    # A multipart upload that the API reads whole (imports, taxon files, predictions); ingest's
    # own upload of images and videos keeps its limits (``WILDLENS_INGEST__MAX_*_BYTES``).
    upload_bytes: int = Field(default=256 << 20, ge=1024)
    # Files read whole into memory to be parsed: one CSV table (its rows take some fifteen
    # times its size in memory), and a JSON document, which Python parses in one go without
    # letting other threads run (a second per ten or so MB on a slow core).
    csv_file_bytes: int = Field(default=32 << 20, ge=1024)
    json_file_bytes: int = Field(default=16 << 20, ge=1024)
    # What an archive (a zip) may unpack to, in all and per entry, counted as it unpacks.
    unpacked_bytes: int = Field(default=1 << 30, ge=1024)
    entry_bytes: int = Field(default=512 << 20, ge=1024)
    # Unpacked bytes per packed byte of one entry, checked once an entry passes 1 MiB: text
    # compresses ten- to fiftyfold, a zip bomb a thousandfold.
    compression_ratio: int = Field(default=100, ge=2)
    # Files and folders in one archive.
    archive_entries: int = Field(default=10_000, ge=1)
    # Nesting of arrays and objects in an imported JSON document.
    json_depth: int = Field(default=64, ge=2)
    # Columns of an imported CSV table.
    csv_columns: int = Field(default=1000, ge=1)
    # An import job (files PUT to the object store, imported by a worker, not in a request):
    # the files it declares, in all; what its archives unpack to, in all and per entry. The
    # compression ratio and the entry count above hold for jobs too, and so do the CSV and
    # JSON limits (those files are read whole into memory either way).
    import_job_bytes: int = Field(default=8 << 30, ge=1024)
    import_job_unpacked_bytes: int = Field(default=16 << 30, ge=1024)
    import_job_entry_bytes: int = Field(default=4 << 30, ge=1024)


class Settings(BaseSettings):
    """What every Wildlens process is configured with; the services' groups are added to it
    by :func:`~wildlens.common.settings.compose_settings`.

    Unknown arguments are refused, so that a group given to settings composed without its
    service fails here instead of being dropped (unknown environment variables are ignored).
    """

    model_config = SettingsConfigDict(
        env_prefix="WILDLENS_", env_nested_delimiter="__", extra="forbid"
    )

    # The services' groups these settings were composed with (none in this base).
    groups: ClassVar[tuple[type[SettingsGroup], ...]] = ()

    mode: Literal["embedded", "distributed"] = "embedded"
    data_dir: Path = Path(".wildlens")
    database_url: str | None = None
    broker_url: str = "memory://"
    storage_url: str | None = None
    # Base URL that signed routes and links are built on (embedded mode's own address).
    public_url: str = "http://127.0.0.1:8080"
    log_level: str = "INFO"
    log_json: bool = True
    migrate_on_start: bool = True
    # From SIGTERM to exit: requests in flight get all but 10 s of it to finish (then they are
    # cancelled), stopping takes the rest, and a process still there at the end exits anyway.
    # Kubernetes kills a pod 30 s after SIGTERM unless told otherwise.
    shutdown_timeout_s: float = Field(default=25, ge=1)

    database: DatabaseSettings = DatabaseSettings()
    broker: BrokerSettings = BrokerSettings()
    storage: StorageSettings = StorageSettings()
    auth: AuthSettings = AuthSettings()
    services: ServicesSettings = ServicesSettings()
    limits: LimitSettings = LimitSettings()

    @model_validator(mode="after")
    def _refuse_embedded_defaults_in_distributed_mode(self) -> Settings:
        if self.mode == "distributed":
            missing = [
                name
                for name, value in (
                    ("WILDLENS_DATABASE_URL", self.database_url),
                    ("WILDLENS_STORAGE_URL", self.storage_url),
                )
                if not value
            ]
            if self.broker_url.startswith("memory:"):
                missing.append("WILDLENS_BROKER_URL")
            if missing:
                raise ValueError("distributed mode needs real backends; set " + ", ".join(missing))
        return self

    def database_url_for(self, service: str) -> str:
        """The database URL one service uses: its own SQLite file, or the shared PostgreSQL."""
        if self.database_url is None or self.database_url.startswith("sqlite"):
            base = self.database_url
            folder = self.data_dir / "db"
            if base is not None:
                folder = Path(base.split(":///", 1)[1]).parent
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{self.database.schema_prefix}{service}.sqlite"
            return f"sqlite+aiosqlite:///{(folder / name).resolve()}"
        return self.database_url

    def schema_for(self, service: str) -> str | None:
        """PostgreSQL schema of a service; ``None`` for SQLite, where each service has a file."""
        if self.database_url is None or self.database_url.startswith("sqlite"):
            return None
        return f"{self.database.schema_prefix}{service}"

    def storage_url_resolved(self) -> str:
        if self.storage_url:
            return self.storage_url
        return f"file://{(self.data_dir / 'objects').resolve()}"
