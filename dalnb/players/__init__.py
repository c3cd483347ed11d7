"""Players for teaching (notebooks 01, 03, 04): turn the body's knobs, watch a registration
converge, compare the rounds. The frame players are plain JavaScript over precomputed pictures,
so they play in JupyterLab and in the exported HTML offline; the body explorer's free sliders
need a kernel (the HTML shows precomputed poses instead)."""

from dalnb.players.explorer import EXAMPLE_POSES, body_explorer, explorer_poses
from dalnb.players.page import frame_player, frame_player_html
from dalnb.players.registration import registration_frames, registration_player
from dalnb.players.rounds import rounds_comparer, rounds_frames

__all__ = [
    "EXAMPLE_POSES",
    "body_explorer",
    "explorer_poses",
    "frame_player",
    "frame_player_html",
    "registration_frames",
    "registration_player",
    "rounds_comparer",
    "rounds_frames",
]
