"""Weighing one candidate by a project's policy, and shaping the subject it becomes: pure,
no input or output.

A candidate is the catalogue's (``GET /v1/projects/{id}/review/candidates``), as JSON.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wildlens.citsci.selection.schemas import Clip, SelectionPolicyIn, SelectionReason

__all__ = ["Shaped", "drawn", "reasons_for", "shape", "sure_blank"]

PICTURES = ("image", "frame")


def drawn(seed: int, media_id: str, rate: float) -> bool:
    """Whether the medium falls in the quality-control sample: a hash of the seed and the
    medium read as a number in [0, 1), below the rate; the same answer every time."""
    if rate <= 0:
        return False
    digest = hashlib.sha256(f"{seed}:{media_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def _certainty(c: Mapping[str, Any]) -> float | None:
    value = c.get("lowest_certainty")
    return float(value) if value is not None else None


def sure_blank(c: Mapping[str, Any], policy: SelectionPolicyIn) -> bool:
    """Every label the model gives says blank, and it is sure of it."""
    certainty = _certainty(c)
    return bool(c.get("blank")) and (certainty is None or certainty >= policy.sure_blank_certainty)


def reasons_for(c: Mapping[str, Any], policy: SelectionPolicyIn) -> list[SelectionReason]:
    """Why the candidate goes to people by the policy; empty: it does not."""
    if sure_blank(c, policy):
        return []
    reasons: list[SelectionReason] = []
    names = ", ".join(c.get("scientific_names") or []) or "no species"
    if policy.uncertain:
        certainty = _certainty(c)
        entropy, margin = c.get("entropy"), c.get("margin")
        said = []
        if certainty is not None and certainty < policy.max_certainty:
            said.append(f"certainty {certainty:.2f} below {policy.max_certainty:.2f}")
        if entropy is not None and float(entropy) >= policy.min_entropy:
            said.append(f"entropy {float(entropy):.2f} at least {policy.min_entropy:.2f}")
        if margin is not None and float(margin) <= policy.max_margin:
            said.append(f"margin {float(margin):.2f} at most {policy.max_margin:.2f}")
        if said:
            reasons.append(
                SelectionReason(
                    reason="uncertain", detail=f"the model ({names}): {'; '.join(said)}"
                )
            )
    if policy.disagreement and (c.get("volunteers_disagree") or c.get("models_disagree")):
        who = [
            what
            for what, flag in (
                ("volunteers and the model", c.get("volunteers_disagree")),
                ("model versions", c.get("models_disagree")),
            )
            if flag
        ]
        reasons.append(
            SelectionReason(reason="disagreement", detail=f"{' and '.join(who)} disagree")
        )
    rarest = c.get("rarest_validated")
    if policy.rare_taxa and rarest is not None and int(rarest) < policy.rare_below:
        reasons.append(
            SelectionReason(
                reason="rare_taxon",
                detail=f"{names}: {int(rarest)} validated observations in the project, fewer "
                f"than {policy.rare_below}",
            )
        )
    if policy.not_analysed and c.get("not_analysed"):
        reasons.append(
            SelectionReason(reason="not_analysed", detail="no detector has looked at it")
        )
    if not reasons and drawn(policy.seed, str(c["media_id"]), policy.quality_control_rate):
        reasons.append(
            SelectionReason(
                reason="quality_control",
                detail=f"a confident one, drawn at {policy.quality_control_rate:g} "
                f"(seed {policy.seed})",
            )
        )
    return reasons


@dataclass(frozen=True)
class Shaped:
    """The subject a chosen candidate becomes: its media in order, the clip they span, and
    those of its group left out because the project hides people on them."""

    media_ids: list[uuid.UUID]
    clip: Clip | None
    left_out: list[uuid.UUID]


def _window(ids: Sequence[uuid.UUID], chosen: uuid.UUID, size: int) -> list[uuid.UUID]:
    if len(ids) <= size:
        return list(ids)
    at = ids.index(chosen) if chosen in ids else 0
    start = min(max(at - size // 2, 0), len(ids) - size)
    return list(ids[start : start + size])


def shape(
    c: Mapping[str, Any], policy: SelectionPolicyIn, taken: Collection[uuid.UUID]
) -> Shaped | None:
    """The subject the candidate becomes, leaving out media in ``taken`` (in the set, or
    chosen already) and pictures with people the project hides; None when nothing is left
    to show (a video with no frames, a group all taken)."""
    media_id = uuid.UUID(str(c["media_id"]))
    group = c.get("group") or []
    if not policy.group_events or not group:
        if c.get("kind") not in PICTURES:
            return None
        return Shaped([media_id], None, [])
    hidden = [uuid.UUID(str(m["media_id"])) for m in group if m.get("people_hidden")]
    usable = [
        m
        for m in group
        if m.get("kind") in PICTURES
        and not m.get("people_hidden")
        and (
            uuid.UUID(str(m["media_id"])) == media_id or uuid.UUID(str(m["media_id"])) not in taken
        )
    ]
    ids = _window([uuid.UUID(str(m["media_id"])) for m in usable], media_id, policy.max_frames)
    if not ids:
        return None
    clip = None
    if c.get("group_kind") == "video":
        offsets = {uuid.UUID(str(m["media_id"])): m.get("offset_ms") or 0 for m in usable}
        # A frame's or a cut clip's video, or the video itself.
        video = c.get("parent_media_id") or c["media_id"]
        clip = Clip(
            video_media_id=uuid.UUID(str(video)),
            start_s=min(offsets[i] for i in ids) / 1000,
            end_s=max(offsets[i] for i in ids) / 1000,
        )
    return Shaped(ids, clip, [h for h in hidden if h != media_id])
