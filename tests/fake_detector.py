"""A stand-in for :class:`landmarks.inference.Detector` in tests whose detector's answers are
known: a subclass gives ``detect_tensor(images (B,3,S,S)) -> (B,K,2)`` and sets ``image_size``
and ``num_keypoints``; the rest is the real Detector's code (its preprocessing, without a
``data.crop`` box, and its one detection on images), so evaluation runs as it does for a
checkpoint."""

from __future__ import annotations

from landmarks.inference import Detector


class DetectorLike:
    image_size: int
    num_keypoints: int
    crop = None  # the checkpoint's data.crop: none
    training_root = ""
    preprocess = Detector.preprocess
    to_image_pixels = Detector.to_image_pixels
    detect_images = Detector.detect_images
    detect_frames = Detector.detect_frames
