"""Video: probe uploads, cut stored videos into frames and clips as child media."""

from .probe import VideoInfo, probe_video
from .split import Piece, SplitPlan, cut

__all__ = ["Piece", "SplitPlan", "VideoInfo", "cut", "probe_video"]
