"""Jakab, Gupta, Bilen, Vedaldi, NeurIPS 2018: "Unsupervised Learning of Object Landmarks
through Conditional Image Generation".

A landmark network Φ turns the target image x' into K score maps; each collapses to a point by
the separable spatial softmax and is re-rendered as a Gaussian map (the keypoint bottleneck).
An appearance encoder reads the source image x; a renderer reconstructs x' from the source's
appearance features concatenated with the target's Gaussian maps.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from landmarks.geometry import render_gaussian_heatmaps, spatial_softmax_keypoints
from landmarks.models.base import LandmarkModel
from landmarks.models.layers import DilatedContext, Encoder, PretrainedVGGEncoder, Renderer
from landmarks.nets.vgg import load_vgg19_weights
from landmarks.registry import register_model


class ImmModel(LandmarkModel):
    """The conditional image generator with a K-keypoint geometry bottleneck.

    Args:
        num_keypoints: K.
        image_size: square input/output size, a power of two in [32, 256].
        sigma: width of the rendered Gaussians in normalised units (official 0.1).
        width: channels of the encoders' first stage (official 32).
        heatmap_size: size of the score maps and of the renderer's input (official 16).
        render_channels: renderer channels at ``heatmap_size`` (official 256).
        min_render_channels: the renderer never goes below this many channels (official 32).
        softmax_scale: multiplier of the separable softmax's logits (official 1; see
            :func:`~landmarks.geometry.spatial_softmax_keypoints`).
        detector: ``paper`` (the paper's encoder, trained from scratch) or ``vgg19``
            (:class:`~landmarks.models.layers.PretrainedVGGEncoder`).
        context_layers: residual dilated 3×3 blocks between the detector and its score head
            (:class:`~landmarks.models.layers.DilatedContext`; beyond the paper, 0 = the
            paper's head).
    """

    def __init__(self, num_keypoints: int = 10, image_size: int = 128, sigma: float = 0.1,
                 width: int = 32, heatmap_size: int = 16, render_channels: int = 256,
                 min_render_channels: int = 32, softmax_scale: float = 1.0,
                 detector: str = "paper", context_layers: int = 0) -> None:
        super().__init__()
        if image_size < 32 or image_size > 256 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two in [32, 256], got {image_size}")
        if heatmap_size > image_size:
            raise ValueError(f"heatmap_size {heatmap_size} must not exceed image_size "
                             f"{image_size}")
        if softmax_scale <= 0:
            raise ValueError(f"softmax_scale must be > 0, got {softmax_scale}")
        self.num_keypoints = num_keypoints
        self.image_size = image_size
        self.sigma = sigma
        self.heatmap_size = heatmap_size
        self.softmax_scale = softmax_scale
        self.detector = detector
        if detector == "paper":
            self.landmark_encoder: nn.Module = Encoder(3, width, image_size, heatmap_size)
            head_in = self.landmark_encoder.out_channels
        elif detector == "vgg19":
            self.landmark_encoder = PretrainedVGGEncoder(image_size, heatmap_size, 8 * width)
            head_in = 8 * width
        else:
            raise ValueError(f"detector must be 'paper' or 'vgg19', got {detector!r}")
        self.landmark_context = DilatedContext(head_in, context_layers)
        self.score_head = nn.Conv2d(head_in, num_keypoints, 1)
        self.appearance_encoder = Encoder(3, width, image_size, heatmap_size)
        self.renderer = Renderer(self.appearance_encoder.out_channels + num_keypoints,
                                 heatmap_size, image_size, render_channels, min_render_channels)

    outputs = frozenset({"reconstruction", "keypoints", "heatmaps", "scores", "prob_x",
                         "prob_y", "warped_keypoints"})

    @property
    def needs_pretrained_weights(self) -> bool:
        """Whether a fresh model wants :meth:`load_pretrained` (the VGG-19 detector does)."""
        return self.detector == "vgg19"

    def load_pretrained(self, vgg_state_dict: dict[str, Tensor] | None) -> None:
        """Load ImageNet VGG-19 weights (either format of
        :func:`~landmarks.nets.vgg.load_vgg19_weights`) into the VGG-19 detector's frozen
        trunk; ``None`` keeps it random (tests)."""
        if self.detector == "vgg19" and vgg_state_dict is not None:
            load_vgg19_weights(self.landmark_encoder.trunk, vgg_state_dict)

    def detector_modules(self) -> list[nn.Module]:
        """The landmark branch Φ (watched by the trainer's health checks)."""
        return [self.landmark_encoder, self.landmark_context, self.score_head]

    def detect(self, images: Tensor) -> dict[str, Tensor]:
        """Landmarks of ``images`` (B,3,S,S) in [0,1].

        Returns "keypoints" (B,K,2) normalised (x, y), "scores" (B,K,h,w) raw score maps,
        "prob_x" (B,K,w) and "prob_y" (B,K,h) the softmax marginals.
        """
        scores = self.score_head(self.landmark_context(self.landmark_encoder(images)))
        soft = spatial_softmax_keypoints(scores.float(), self.softmax_scale)
        return {"keypoints": soft.keypoints, "scores": scores,
                "prob_x": soft.prob_x, "prob_y": soft.prob_y}

    def forward(self, source: Tensor, target: Tensor,
                warped_target: Tensor | None = None) -> dict[str, Tensor]:
        """Reconstruct ``target`` from the appearance of ``source`` and the target's keypoints.

        Args:
            source: (B,3,S,S) in [0,1].
            target: (B,3,S,S) in [0,1].
            warped_target: optional (B,3,S,S), the target under a known warp (for the
                equivariance prior); detected in the same landmark-encoder pass as the target.
        Returns:
            "reconstruction" (B,3,S,S), "keypoints" (B,K,2) of the target, "heatmaps" (B,K,h,w)
            the rendered Gaussian maps, plus the detection outputs; with ``warped_target`` also
            "warped_keypoints" (B,K,2).
        """
        b = target.shape[0]
        if warped_target is None:
            det = self.detect(target)
        else:
            both = self.detect(torch.cat([target, warped_target]))
            det = {k: v[:b] for k, v in both.items()}
            det["warped_keypoints"] = both["keypoints"][b:]
        reconstruction, heatmaps = self._render(source, det["keypoints"])
        return {"reconstruction": reconstruction, "heatmaps": heatmaps, **det}

    def _render(self, source: Tensor, keypoints: Tensor) -> tuple[Tensor, Tensor]:
        h = self.heatmap_size
        heatmaps = render_gaussian_heatmaps(keypoints, (h, h), self.sigma)
        appearance = self.appearance_encoder(source)
        joint = torch.cat([appearance, heatmaps.to(appearance.dtype)], dim=1)
        return self.renderer(joint), heatmaps

    def render(self, source: Tensor, keypoints: Tensor) -> dict[str, Tensor]:
        """Render the appearance of ``source`` (B,3,S,S) at given ``keypoints`` (B,K,2)
        (normalised (x, y)), e.g. detected ones with some moved: the forward pass with the
        target's detection replaced by ``keypoints``.

        Returns "reconstruction" (B,3,S,S) and "rendered_maps" (B,K,h,w), the Gaussian maps
        the renderer saw (each peaks at its keypoint)."""
        reconstruction, maps = self._render(source, keypoints)
        return {"reconstruction": reconstruction, "rendered_maps": maps}


@register_model("imm")
def imm(num_keypoints: int = 10, image_size: int = 128, sigma: float = 0.1, width: int = 32,
        heatmap_size: int = 16, render_channels: int = 256, min_render_channels: int = 32,
        softmax_scale: float = 1.0, detector: str = "paper",
        context_layers: int = 0) -> ImmModel:
    """The paper's model (:class:`ImmModel`); defaults are the official sizes at 128×128 with
    K=10 and the official softmax."""
    return ImmModel(num_keypoints, image_size, sigma, width, heatmap_size, render_channels,
                    min_render_channels, softmax_scale, detector, context_layers)
