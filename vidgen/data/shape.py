"""The one video format of vidgen: (T, H, W) = (16, 32, 32) grayscale frames (a long video: T up to
MAX_FRAMES); uint8 in [0, 255] on disk and from the renderer, float in [-1, 1] in model space, batched as
(B, T, H, W)."""

FRAMES, HEIGHT, WIDTH = 16, 32, 32  # (T, H, W)
MAX_FRAMES = 128  # the longest video a motion may span: longer than FRAMES is made window by window (vidgen.long)
