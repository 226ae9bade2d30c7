"""unsupervised-landmarks: learn object landmark detectors from unlabelled images and videos.

Coordinate convention (the one place it is stated; every module follows it):
keypoints are ``(x, y)`` with x to the right and y down, normalised to ``[-1, 1]`` with
``align_corners=False`` semantics, i.e. the centre of pixel ``i`` of an axis of length ``n`` is
at ``-1 + (2 i + 1) / n``; ``-1`` and ``+1`` are the outer edges of the border pixels. Pixel
coordinates (the same convention as ``x_pixel = (x + 1) * W / 2 - 0.5``) are used only at the
edges: file I/O, metrics and drawing (see :mod:`landmarks.geometry.coords`).

Images inside the library are float32 tensors ``(B, C, H, W)`` in ``[0, 1]``; keypoints are
``(B, K, 2)``; heatmaps are ``(B, K, h, w)``.
"""

__version__ = "0.1.0"
