"""``ingest.video.requested``: a stored video cut into frames and clips, announced as child
media. The cut runs outside any transaction; ``split_video`` records the request as handled
in the short one that stages the announcements."""

from __future__ import annotations

from wildlens.common.events import Envelope
from wildlens.common.service import ServiceContext
from wildlens.ingest.video.jobs import EVENT_TYPE, split_video

__all__ = ["EVENT_TYPE", "consume"]


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> None:
    for envelope in envelopes:
        await split_video(ctx, envelope)
