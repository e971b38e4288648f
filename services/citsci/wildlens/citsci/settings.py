"""The citizen-science service's settings: ``WILDLENS_CITSCI__<FIELD>`` in the environment."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field, SecretStr

from wildlens.common.settings import SettingsGroup

__all__ = ["CitsciSettings", "VolunteerSettings", "ZooniverseSettings"]


class ZooniverseSettings(BaseModel):
    """The Zooniverse account subjects are sent with (``WILDLENS_CITSCI__ZOONIVERSE__...``).

    An OAuth application's client id and secret (a project owner creates one at
    zooniverse.org/oauth/applications) or a user's login; without either, nothing is sent.
    """

    endpoint: str = Field(default="https://www.zooniverse.org", pattern=r"^https?://[^\s]+$")
    client_id: str | None = None
    client_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    # One PUT of a subject's image to the URL Panoptes signed for it.
    upload_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    # Tries of that PUT before the subject is left for the next run (a 504 from the
    # storage behind Zooniverse is common and passes).
    upload_attempts: int = Field(default=3, ge=1, le=10)
    # How long a pull waits for Zooniverse to generate a classification export.
    export_timeout_s: float = Field(default=600.0, gt=0, le=24 * 3600)
    # A classification export is refused (413, nothing stored) past this size, checked as it
    # downloads: a project's exports run to gigabytes, written to a temporary file.
    export_max_bytes: int = Field(default=4 << 30, ge=1024)
    # A pull of recent classifications (Panoptes' API listing, read page by page and held
    # until stored in one transaction) is refused (413, nothing stored) past this many;
    # the export is the way to pull more at once.
    recent_max_classifications: int = Field(default=50_000, ge=1, le=1_000_000)
    # Every this many seconds, each Zooniverse set's latest classification export is pulled
    # in the background, as a manager's pull does; 0 leaves pulling to managers.
    pull_interval_s: float = Field(default=0.0, ge=0, le=7 * 24 * 3600)
    # Every this many seconds, retirements Zooniverse refused or missed are told again; 0
    # leaves them to the next pull or expert validation.
    retire_retry_s: float = Field(default=300.0, ge=0, le=7 * 24 * 3600)

    @property
    def configured(self) -> bool:
        return bool((self.client_id and self.client_secret) or (self.username and self.password))


class VolunteerSettings(BaseModel):
    """How the built-in volunteer API serves subjects (``WILDLENS_CITSCI__VOLUNTEERS__...``)."""

    # The share of the subjects served that are gold standard (media an expert validated),
    # which measure each volunteer against the expert; 0 serves none.
    gold_standard_rate: float = Field(default=0.1, ge=0, le=1)
    # A Dawid-Skene set's retirement estimates volunteers' skill from at most this many of
    # the project's most recent classifications (plus every gold-standard one), so that a
    # classification costs the same in a project of a million.
    dawid_skene_window: int = Field(default=20_000, ge=100, le=10_000_000)


class CitsciSettings(SettingsGroup):
    """Where volunteers' work goes beyond the built-in volunteer API."""

    group: ClassVar[str] = "citsci"

    zooniverse: ZooniverseSettings = ZooniverseSettings()
    volunteers: VolunteerSettings = VolunteerSettings()
