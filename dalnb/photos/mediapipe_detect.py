"""2D keypoints and a person mask with MediaPipe Pose (BlazePose "full", the model the wheel
ships; ``model_complexity=1``). Standalone: it imports neither torch nor dalnb, so it runs in
the small MediaPipe environment (mediapipe pins numpy < 2):

    python mediapipe_detect.py OUT_DIR IMAGE [IMAGE ...]

writes OUT_DIR/<stem>.npz per image with ``landmarks`` (33, 4) pixels x, y, z, visibility,
``mask`` (H, W) bool and ``found`` (bool), then prints one line per image.
"""

import os
import sys


def main(argv):
    import mediapipe as mp
    import numpy as np
    from PIL import Image

    out_dir, paths = argv[0], argv[1:]
    os.makedirs(out_dir, exist_ok=True)
    with mp.solutions.pose.Pose(
        static_image_mode=True, model_complexity=1, enable_segmentation=True, min_detection_confidence=0.3
    ) as pose:
        for p in paths:
            try:
                img = np.asarray(Image.open(p).convert("RGB"))
            except Exception as e:  # noqa: BLE001 - a bad file is reported, the others go on
                print(f"{p}: not an image ({type(e).__name__}: {e})", file=sys.stderr)
                continue
            h, w = img.shape[:2]
            res = pose.process(img)
            found = res.pose_landmarks is not None
            lm = np.zeros((33, 4), np.float32)
            mask = np.zeros((h, w), bool)
            if found:
                lm = np.array(
                    [[q.x * w, q.y * h, q.z * w, q.visibility] for q in res.pose_landmarks.landmark], np.float32
                )
                if res.segmentation_mask is not None:
                    mask = np.asarray(res.segmentation_mask) > 0.5
            stem = os.path.splitext(os.path.basename(p))[0]
            tmp = os.path.join(out_dir, f".{stem}.tmp.npz")
            np.savez_compressed(tmp, landmarks=lm, mask=mask, found=np.array(found), image_size=np.array([h, w]))
            os.replace(tmp, os.path.join(out_dir, f"{stem}.npz"))
            print(f"{p}\t{'found' if found else 'none'}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
