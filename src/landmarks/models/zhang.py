"""Zhang, Guo, Jin, Luo, He, Lee, CVPR 2018: "Unsupervised Discovery of Object Landmarks as
Structural Representations" (reference code: lmdis-rep).

Detector. An hourglass turns an image into K + 1 score maps (K landmarks and a background);
a softmax *across the channels* at every pixel shares each pixel among them. Each channel,
normalised over the pixels, is the landmark's detection distribution ``D_k``; the landmark is
its mean ``u_k = Σ_u u D_k(u)`` (the paper's Eq. 1), and its marginals are reported as
"prob_x" / "prob_y" for the concentration prior (:mod:`landmarks.losses.priors`).

Landmark-based features. A feature map of the image is pooled under each channel's
distribution, ``f_k = Σ_u D_k(u) F(u)`` (K + 1 vectors, the background's included), and a
per-landmark linear map (no weights shared between landmarks, lmdis-rep's "group connected"
layer) turns it into the landmark's latent vector of ``feature_dim`` numbers: with K = 10 and
``feature_dim`` = 8 the whole appearance is 88 numbers.

Landmark-conditioned decoding. Each landmark is rendered as a Gaussian density at
``decoding_levels`` widths (``sigma``, ``sigma·level_ratio``, ...), against a uniform
background density; the K + 1 maps of each level are normalised across channels (a soft
partition of the image). Every map is multiplied by its landmark's (linearly expanded) latent
vector and the products are summed per level; maps and painted features go through the
renderer (bilinear ×2 and conv+BN+ReLU per scale, :class:`~landmarks.models.layers.Renderer`)
to the image.

Pairs (our choice; lmdis-rep is an autoencoder of one image with its own random warp for the
equivariance prior). With ``appearance="source"`` (default) the latent vectors come from the
*source* image, pooled under the source's own detections, and are decoded at the *target's*
landmarks: the trainer's pairs (``source`` = the target under a TPS warp, or another video
frame) then ask the landmarks to carry the geometry, as for the IMM model, and the decoder
cannot copy the target's appearance. ``appearance="target"`` is lmdis-rep's autoencoder: the
target is encoded and decoded from its own landmarks and vectors (the 88-number bottleneck
alone keeps it from copying).

Differences from lmdis-rep, on purpose: the detector's hourglass runs on a stride-4 feature
map (16×16 at 64 px, CPU-friendly) rather than at full resolution; the decoder is the IMM
model's renderer rather than a second full-resolution hourglass; the Gaussian densities are
true densities (lmdis-rep divides by ``σ⁴`` where ``σ²`` belongs and by the pixel count
twice); the reconstruction loss is whatever ``loss.name`` says (perceptual by default).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from landmarks.geometry import render_gaussian_heatmaps
from landmarks.geometry.coords import pixel_centers
from landmarks.models.base import LandmarkModel
from landmarks.models.hourglass import Hourglass
from landmarks.models.layers import Encoder, PretrainedVGGEncoder, Renderer
from landmarks.nets.vgg import load_vgg19_weights
from landmarks.registry import register_model

__all__ = ["GroupLinear", "ZhangModel", "landmark_distributions", "partition_maps", "zhang"]

APPEARANCE = ("source", "target")


class GroupLinear(nn.Module):
    """One independent linear map per group: ``(B, G, Cin) → (B, G, Cout)`` (lmdis-rep's
    untied "group connected" layer)."""

    def __init__(self, groups: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(groups, in_features, out_features)
                                   .uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(groups, out_features))

    def forward(self, x: Tensor) -> Tensor:
        return torch.einsum("bgi,gio->bgo", x, self.weight) + self.bias


def landmark_distributions(logits: Tensor) -> tuple[Tensor, Tensor]:
    """Score maps → per-pixel shares and per-landmark distributions.

    Args:
        logits: ``(B, K+1, h, w)``, the last channel the background.

    Returns:
        ``(shares, distributions)``: ``shares`` the softmax across the K+1 channels at each pixel
        (sums to 1 over channels); ``distributions`` each channel of ``shares`` divided by its
        sum over the pixels (sums to 1 over pixels). Both ``(B, K+1, h, w)``, float32.
    """
    shares = torch.softmax(logits.float(), dim=1)
    mass = shares.sum(dim=(-2, -1), keepdim=True)
    return shares, shares / mass.clamp_min(1e-12)


def partition_maps(keypoints: Tensor, size: int, sigma: float) -> Tensor:
    """The decoder's maps of one level: each landmark a 2-D Gaussian density of standard
    deviation ``sigma`` (normalised units; densities with respect to the image's area taken as
    1, so the [-1, 1]² square has area 1), a uniform background density of 1, all K+1
    normalised to sum to 1 at each pixel.

    ``density_k(u) = exp(-|u - u_k|² / (2σ²)) · 2 / (π σ²)`` (a density in [0, 1] units is
    ``1 / (2π σ₀²)`` at the peak with ``σ₀ = σ / 2``). With ``σ = 0.25`` a landmark owns ~91% of
    the pixel under it; at ``σ = 1`` only 39%.

    Args:
        keypoints: ``(B, K, 2)`` normalised ``(x, y)``.
        size: the maps' side.
        sigma: standard deviation in normalised units (> 0).

    Returns:
        ``(B, K+1, size, size)``, the last channel the background.
    """
    kp = keypoints.float()
    c = pixel_centers(size, device=kp.device, dtype=kp.dtype)
    gx = torch.exp(-((c - kp[..., 0:1]) ** 2) / (2 * sigma**2))  # (B, K, w)
    gy = torch.exp(-((c - kp[..., 1:2]) ** 2) / (2 * sigma**2))  # (B, K, h)
    density = gy.unsqueeze(-1) * gx.unsqueeze(-2) * (2.0 / (math.pi * sigma**2))
    background = torch.ones_like(density[:, :1])
    maps = torch.cat([density, background], dim=1)
    return maps / maps.sum(dim=1, keepdim=True)


class ZhangModel(LandmarkModel):
    """The landmark autoencoder of Zhang et al. 2018 (see the module docstring).

    Args:
        num_keypoints: K (the detector has K + 1 channels with the background).
        image_size: square input/output size, a power of two in [32, 256].
        width: channels of the encoders' first stage (doubling at each stride-2 block).
        heatmap_size: side of the detection maps and of the decoder's input.
        hourglass_levels: levels of the detector's hourglass (``heatmap_size`` must be divisible
            by ``2^(levels-1)``).
        feature_dim: numbers per landmark's latent vector (lmdis-rep: 8).
        decoder_feature_channels: each latent vector is expanded linearly to this many channels
            before it is painted into its maps (lmdis-rep: 64).
        sigma: standard deviation of the finest decoding Gaussian, normalised units (lmdis-rep:
            1/8 of the image = 0.25).
        decoding_levels: Gaussian widths rendered for the decoder (lmdis-rep: 5).
        level_ratio: ratio of successive widths (lmdis-rep: √2).
        render_channels: renderer channels at ``heatmap_size``.
        min_render_channels: the renderer never goes below this many channels.
        appearance: ``"source"`` (latent vectors of the source image, decoded at the target's
            landmarks) or ``"target"`` (lmdis-rep's autoencoder of the target).
        detector: the hourglass's input: ``"paper"`` (a stride-2 encoder trained from scratch,
            as lmdis-rep's detector is) or ``"vgg19"`` (a frozen ImageNet VGG-19 trunk and one
            trainable conv to ``8 * width`` channels, the IMM model's option; loaded by the
            trainer from the perceptual loss's weights).
    """

    def __init__(self, num_keypoints: int = 10, image_size: int = 128, width: int = 16,
                 heatmap_size: int = 16, hourglass_levels: int = 3, feature_dim: int = 8,
                 decoder_feature_channels: int = 32, sigma: float = 0.25,
                 decoding_levels: int = 5, level_ratio: float = math.sqrt(2.0),
                 render_channels: int = 128, min_render_channels: int = 16,
                 appearance: str = "source", detector: str = "paper") -> None:
        super().__init__()
        if image_size < 32 or image_size > 256 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two in [32, 256], got {image_size}")
        if heatmap_size > image_size:
            raise ValueError(f"heatmap_size {heatmap_size} must not exceed image_size "
                             f"{image_size}")
        if hourglass_levels < 1 or heatmap_size % 2 ** (hourglass_levels - 1):
            raise ValueError(f"heatmap_size {heatmap_size} must be divisible by "
                             f"2^(hourglass_levels - 1) (hourglass_levels={hourglass_levels})")
        if num_keypoints < 1 or feature_dim < 1 or decoding_levels < 1:
            raise ValueError(f"num_keypoints, feature_dim and decoding_levels must be >= 1, got "
                             f"{num_keypoints}, {feature_dim}, {decoding_levels}")
        if sigma <= 0 or level_ratio <= 0:
            raise ValueError(f"sigma and level_ratio must be > 0, got {sigma}, {level_ratio}")
        if appearance not in APPEARANCE:
            raise ValueError(f"appearance must be one of {', '.join(APPEARANCE)}, got "
                             f"{appearance!r}")
        self.num_keypoints = num_keypoints
        self.image_size = image_size
        self.heatmap_size = heatmap_size
        self.feature_dim = feature_dim
        self.appearance = appearance
        self.detector = detector
        self.sigmas = [sigma * level_ratio**i for i in range(decoding_levels)]
        k1 = num_keypoints + 1
        # detector: a stem to heatmap_size, hourglass, K+1 score maps
        if detector == "paper":
            self.landmark_encoder: nn.Module = Encoder(3, width, image_size, heatmap_size)
        elif detector == "vgg19":
            self.landmark_encoder = PretrainedVGGEncoder(image_size, heatmap_size, 8 * width)
        else:
            raise ValueError(f"detector must be 'paper' or 'vgg19', got {detector!r}")
        c = self.landmark_encoder.out_channels
        self.hourglass = Hourglass(c, [c] * hourglass_levels)
        self.score_head = nn.Conv2d(c, k1, 1)
        # landmark-based features
        self.feature_encoder = Encoder(3, width, image_size, heatmap_size)
        self.feature_head = GroupLinear(k1, self.feature_encoder.out_channels, feature_dim)
        # landmark-conditioned decoding
        self.feature_expand = GroupLinear(k1, feature_dim, decoder_feature_channels)
        self.renderer = Renderer(decoding_levels * (k1 + decoder_feature_channels),
                                 heatmap_size, image_size, render_channels, min_render_channels)

    @property
    def outputs(self) -> frozenset[str]:  # type: ignore[override]
        """The training step's outputs; the source's detection ("source_keypoints",
        "source_heatmaps") only with ``appearance="source"`` (the target autoencoder does not
        detect on the source)."""
        names = {"reconstruction", "keypoints", "heatmaps", "prob_x", "prob_y",
                 "rendered_maps", "features", "warped_keypoints"}
        if self.appearance == "source":
            names |= {"source_keypoints", "source_heatmaps"}
        return frozenset(names)

    @property
    def needs_pretrained_weights(self) -> bool:
        """Whether a fresh model wants :meth:`load_pretrained` (the VGG-19 detector does)."""
        return self.detector == "vgg19"

    def load_pretrained(self, vgg_state_dict: dict[str, Tensor] | None) -> None:
        """ImageNet VGG-19 weights into the VGG-19 detector's frozen trunk (``None``: keep it
        random, for tests)."""
        if self.detector == "vgg19" and vgg_state_dict is not None:
            load_vgg19_weights(self.landmark_encoder.trunk, vgg_state_dict)

    def detector_modules(self) -> list[nn.Module]:
        """The landmark branch (watched by the trainer's health checks)."""
        return [self.landmark_encoder, self.hourglass, self.score_head]

    def detect(self, images: Tensor) -> dict[str, Tensor]:
        """Landmarks of ``images`` (B,3,S,S) in [0,1].

        Returns:
            "keypoints" (B,K,2) normalised (x, y), the means of the distributions;
            "prob_x" (B,K,w) and "prob_y" (B,K,h) their marginals; "heatmaps" (B,K,h,w) each
            landmark's per-pixel share (softmax across channels, background left out);
            "distributions" (B,K+1,h,w) each channel normalised over the pixels (the background
            last), which pool the landmark features.
        """
        logits = self.score_head(self.hourglass(self.landmark_encoder(images)))
        shares, dist = landmark_distributions(logits)
        k = self.num_keypoints
        prob_x = dist[:, :k].sum(dim=-2)  # (B, K, w)
        prob_y = dist[:, :k].sum(dim=-1)  # (B, K, h)
        h, w = dist.shape[-2:]
        x = (prob_x * pixel_centers(w, device=dist.device)).sum(-1)
        y = (prob_y * pixel_centers(h, device=dist.device)).sum(-1)
        return {"keypoints": torch.stack((x, y), dim=-1), "prob_x": prob_x, "prob_y": prob_y,
                "heatmaps": shares[:, :k], "distributions": dist}

    def landmark_features(self, images: Tensor, distributions: Tensor) -> Tensor:
        """The K+1 latent vectors ``(B, K+1, feature_dim)`` of ``images`` pooled under their
        ``distributions`` (B,K+1,h,w) (from :meth:`detect` on the same images)."""
        feats = self.feature_encoder(images).float()
        pooled = torch.einsum("bkhw,bchw->bkc", distributions, feats)
        return self.feature_head(pooled)

    def decode(self, features: Tensor, keypoints: Tensor) -> dict[str, Tensor]:
        """Render ``features`` (B,K+1,D) at ``keypoints`` (B,K,2).

        Returns "reconstruction" (B,3,S,S) and "rendered_maps" (B,K,h,w): each landmark's
        Gaussian at the finest level, ``exp(-|u - u_k|² / (2σ²))`` (peak 1 at the landmark),
        before the maps are shared out with the background and the other landmarks."""
        painted = self.feature_expand(features)  # (B, K+1, C)
        parts = []
        for sigma in self.sigmas:
            maps = partition_maps(keypoints, self.heatmap_size, sigma)
            parts += [maps, torch.einsum("bkhw,bkc->bchw", maps, painted)]
        reconstruction = self.renderer(torch.cat(parts, dim=1))
        h = self.heatmap_size
        gaussians = render_gaussian_heatmaps(keypoints, (h, h), self.sigmas[0] * math.sqrt(2.0))
        return {"reconstruction": reconstruction, "rendered_maps": gaussians}

    def render(self, source: Tensor, keypoints: Tensor) -> dict[str, Tensor]:
        """Decode the appearance of ``source`` (B,3,S,S) at given ``keypoints`` (B,K,2)
        (normalised (x, y)): moving a landmark moves its part of the image.

        Returns "reconstruction" (B,3,S,S), "rendered_maps" (B,K,h,w) and the source's
        detection ("source_keypoints")."""
        det = self.detect(source)
        features = self.landmark_features(source, det["distributions"])
        return {**self.decode(features, keypoints), "source_keypoints": det["keypoints"]}

    def forward(self, source: Tensor, target: Tensor,
                warped_target: Tensor | None = None) -> dict[str, Tensor]:
        """Reconstruct ``target`` from landmark features and the target's landmarks.

        Args:
            source: (B,3,S,S) in [0,1], the appearance (``appearance="source"``).
            target: (B,3,S,S) in [0,1], the image whose landmarks are decoded.
            warped_target: optional (B,3,S,S), the target under a known warp (equivariance);
                detected in the same pass.

        Returns:
            "reconstruction" (B,3,S,S); the target's "keypoints" (B,K,2), "prob_x", "prob_y",
            "heatmaps" (detection shares, B,K,h,w); "rendered_maps" (B,K,h,w); "features"
            (B,K+1,D) the latent vectors decoded; with ``warped_target`` "warped_keypoints";
            with ``appearance="source"`` the source's "source_keypoints" (B,K,2) and
            "source_heatmaps" (B,K,h,w) (for the temporal terms on video pairs).
        """
        b = target.shape[0]
        images = [target]
        if self.appearance == "source":
            images.append(source)
        if warped_target is not None:
            images.append(warped_target)
        det = self.detect(torch.cat(images)) if len(images) > 1 else self.detect(target)
        chunk = {k: v[:b] for k, v in det.items()}
        extra: dict[str, Tensor] = {}
        if self.appearance == "source":
            appearance, dist = source, det["distributions"][b:2 * b]
            extra["source_keypoints"] = det["keypoints"][b:2 * b]
            extra["source_heatmaps"] = det["heatmaps"][b:2 * b]
        else:
            appearance, dist = target, chunk["distributions"]
        if warped_target is not None:
            extra["warped_keypoints"] = det["keypoints"][-b:]
        features = self.landmark_features(appearance, dist)
        decoded = self.decode(features, chunk["keypoints"])
        chunk.pop("distributions")
        return {**decoded, **chunk, **extra, "features": features}


@register_model("zhang")
def zhang(num_keypoints: int = 10, image_size: int = 128, width: int = 16, heatmap_size: int = 16,
          hourglass_levels: int = 3, feature_dim: int = 8, decoder_feature_channels: int = 32,
          sigma: float = 0.25, decoding_levels: int = 5, level_ratio: float = math.sqrt(2.0),
          render_channels: int = 128, min_render_channels: int = 16,
          appearance: str = "source", detector: str = "paper") -> ZhangModel:
    """Zhang et al. 2018 (:class:`ZhangModel`); defaults are CPU-sized (half the IMM model's
    encoder width, a 16×16 detector), lmdis-rep's feature size (8 per landmark) and decoding
    Gaussians (5 levels from 1/8 of the image, ratio √2)."""
    return ZhangModel(num_keypoints, image_size, width, heatmap_size, hourglass_levels,
                      feature_dim, decoder_feature_channels, sigma, decoding_levels, level_ratio,
                      render_channels, min_render_channels, appearance, detector)
