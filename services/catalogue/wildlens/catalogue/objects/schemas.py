from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["ObjectSummary"]


class ObjectSummary(BaseModel):
    """What makes a medium a single object: where it was sampled and how it was cut."""

    sample: str | None = Field(description="The sample's id (EcoTaxa's sample_id).")
    acquisition: str | None = Field(description="The acquisition's id (acq_id).")
    process: str | None = Field(description="The process's id (process_id).")
    depth_min: float | None = Field(description="Metres below the surface.")
    depth_max: float | None
    category: str = Field(description="The category the imported file gave, as written.")
    morphological: bool = Field(
        default=False,
        description="The category is no taxon (detritus, artefact, bubble, a temporary "
        "group): kept outside the tree and left out of abundances unless asked.",
    )
