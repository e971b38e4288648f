"""Video: probe uploads, cut stored videos into frames and clips as child media.

``probe`` checks an upload at the door; ``jobs`` handles the work queue's cut requests.
"""

from .probe import VideoInfo, probe_video
from .split import Piece, SplitPlan, cut

__all__ = ["Piece", "SplitPlan", "VideoInfo", "cut", "probe_video"]
