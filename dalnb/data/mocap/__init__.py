"""Motion capture: CMU BVH and ASF/AMC, retargeted to our skeleton by joint name.

CMU data: "The data used in this project was obtained from mocap.cs.cmu.edu. The database was
created with funding from NSF EIA-0196217."
"""

from dalnb.data.mocap.asf_amc import load_asf_amc
from dalnb.data.mocap.bvh import load_bvh
from dalnb.data.mocap.load import load_motion
from dalnb.data.mocap.motion import MocapFormatError, Motion
from dalnb.data.mocap.retarget import NAME_MAPS, pick_name_map, retarget

__all__ = [
    "Motion",
    "MocapFormatError",
    "load_bvh",
    "load_asf_amc",
    "load_motion",
    "retarget",
    "NAME_MAPS",
    "pick_name_map",
]
