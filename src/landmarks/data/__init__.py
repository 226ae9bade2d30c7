"""Training data readers: image folders, video frame pairs, and the offline face-video fetcher.

``build_dataset(cfg.data, image_size)`` turns a :class:`~landmarks.config.DataConfig` into a
dataset; batch it with :func:`collate_skipping`, which drops (and counts) unreadable items.
Image geometry (crop → centred square → antialiased resize) is in
:mod:`landmarks.data.transforms`, including :func:`square_crop_box` to map keypoints back.
"""

from __future__ import annotations

from torch.utils.data import Dataset

from landmarks.config import DataConfig
from landmarks.data.augment import AppearanceAugmented, PairAugmentation
from landmarks.data.fetch import FACE_VIDEO_SOURCES, fetch_face_videos
from landmarks.data.flow import FLOW_METHODS, FlowPairs, compute_flow
from landmarks.data.images import ImageFolder, list_images
from landmarks.data.transforms import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    DatasetError,
    frame_to_tensor,
    load_image,
    square_crop_box,
    to_input_pixels,
)
from landmarks.data.video import (
    VideoFramePairs,
    clear_video_cache,
    collate_skipping,
    decode_video,
)
from landmarks.data.video_io import VideoInfo, count_frames, video_info
from landmarks.registry import DATASETS, register_dataset

__all__ = [
    "FACE_VIDEO_SOURCES",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "DatasetError",
    "FLOW_METHODS",
    "FlowPairs",
    "ImageFolder",
    "VideoFramePairs",
    "VideoInfo",
    "build_dataset",
    "check_data_kind",
    "clear_video_cache",
    "collate_skipping",
    "compute_flow",
    "count_frames",
    "decode_video",
    "fetch_face_videos",
    "frame_to_tensor",
    "list_images",
    "load_image",
    "square_crop_box",
    "to_input_pixels",
    "video_info",
]


def _check_plain_folder(cfg: DataConfig) -> None:
    """Image and video folders have no splits and no options: a value there would be ignored,
    so it is an error that names the key."""
    if cfg.split != "train":
        raise DatasetError(f"data.kind {cfg.kind!r} has no splits (it reads every file under "
                           f"data.root); data.split must be 'train', got {cfg.split!r}: point "
                           f"data.root at the folder you want instead")
    if cfg.options:
        raise DatasetError(f"data.kind {cfg.kind!r} takes no data.options, got "
                           f"{', '.join(map(repr, sorted(cfg.options)))}")


@register_dataset("images")
def _images(cfg: DataConfig, image_size: int) -> Dataset:
    _check_plain_folder(cfg)
    return ImageFolder(cfg.root, image_size, crop=cfg.crop or None)


@register_dataset("video")
def _video(cfg: DataConfig, image_size: int) -> Dataset:
    _check_plain_folder(cfg)
    # one-image frame folders (still photos) pair with themselves: only with TPS on the pairs
    return VideoFramePairs(cfg.root, image_size, frame_gap=tuple(cfg.frame_gap),
                           crop=cfg.crop or None, max_frames=cfg.max_frames,
                           stills=cfg.video_tps, still_share=cfg.still_share)


# the paper's datasets register themselves (readers and labelled benchmarks)
from landmarks.data import (  # noqa: E402, F401, I001
    aflw,
    bbcpose,
    bodies,
    celeba,
    digits,
    h36m,
    h36m_full,
    realfaces,
    smallnorb,
    svhn,
    voxceleb,
)


def check_data_kind(cfg: DataConfig) -> None:
    """``cfg.kind`` is a registered dataset, else a :class:`DatasetError` naming the key and
    the registered kinds."""
    if cfg.kind not in DATASETS.names():
        raise DatasetError(f"config key 'data.kind': data.kind {cfg.kind!r} is unknown; expected "
                           f"one of {', '.join(DATASETS.names())}")


def build_dataset(cfg: DataConfig, image_size: int) -> Dataset:
    """The training dataset that ``cfg`` describes, at ``image_size`` × ``image_size``.

    ``cfg.kind == "images"`` → :class:`ImageFolder` (items ``{"image": (3, S, S)}``; pairs come
    from TPS warps later); ``"video"`` → :class:`VideoFramePairs` (items ``{"source", "target":
    (3, S, S), "frames": (2,)}``). With ``cfg.flow`` other than ``"none"`` the pairs also carry
    their optical flows "flow" and "flow_back" (:class:`FlowPairs`). Raises
    :class:`DatasetError` naming the root when it is empty or missing, or the kind when it is
    unknown.
    """
    if not cfg.root:
        raise DatasetError(f"data.root is empty; expected the path of the {cfg.kind} data")
    check_data_kind(cfg)
    augment = PairAugmentation(cfg.augment)  # checked before any file is read
    dataset = DATASETS.create(cfg.kind, cfg=cfg, image_size=image_size)
    if cfg.flow != "none":
        if cfg.flow not in FLOW_METHODS:
            raise DatasetError(f"config key 'data.flow': expected one of "
                               f"{', '.join(FLOW_METHODS)}, got {cfg.flow!r}")
        dataset = FlowPairs(dataset, cfg.flow, disk_cache=cfg.flow_cache)
    if augment.active:  # after the flow, which is measured on the frames as they are
        dataset = AppearanceAugmented(dataset, augment.options)
    return dataset
