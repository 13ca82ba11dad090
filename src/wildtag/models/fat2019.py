"""The shallow CNNs of the FAT2019 3rd place solution, with deep supervision, and their MLP classifier.

Deep supervision: the output of every block from ``start_deep_supervision_on`` (0-based) on is max-pooled
over frequency and time, and the pooled vectors are concatenated into one feature vector::

    spec -> block0 -> block1 -> block2 -> ... -> blockN-1
                        |         |                 |
                       max       max               max      (global max over F and T)
                        +---------+------ cat ------+  ->  (B, C_total, 1, 1)

The vector is returned as a 1x1 feature map so the ordinary heads take it; ``num_features`` is
``C_total``. Block ``i`` has ``round(base_width * growth_rate ** i)`` channels.

    >>> backbone = create_backbone("fat2019_cnn2d", in_chans=1, base_width=8, num_blocks=3)
    >>> backbone(torch.zeros(2, 1, 64, 100)).shape  # blocks 1 and 2 supervised: 12 + 18 channels
    torch.Size([2, 30, 1, 1])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.modules.lazy import LazyModuleMixin

from wildtag.models.backbones import BACKBONES, ConvBlock
from wildtag.models.heads import HEADS, _check_dropout, _check_features

AGGREGATIONS = ("max", "gru")


def block_widths(num_blocks: int, base_width: int, growth_rate: float) -> list[int]:
    """Channels of each block: ``base_width * growth_rate ** i`` rounded, at least 1."""
    return [max(1, round(base_width * growth_rate**i)) for i in range(num_blocks)]


def _check_blocks(name: str, num_blocks: int, base_width: int, growth_rate: float, start: int) -> None:
    if num_blocks < 1 or base_width < 1:
        raise ValueError(f"{name} needs num_blocks >= 1 and base_width >= 1, got {num_blocks}, {base_width}")
    if not growth_rate > 0:
        raise ValueError(f"{name}: growth_rate must be > 0, got {growth_rate!r}")
    if not 0 <= start < num_blocks:
        raise ValueError(
            f"{name}: start_deep_supervision_on={start} must name one of the blocks 0..{num_blocks - 1}"
        )


def _as_map(vectors: list[Tensor]) -> Tensor:
    """Concatenated (B, C_i) vectors as a (B, sum C_i, 1, 1) feature map."""
    return torch.cat(vectors, dim=1)[:, :, None, None]


@BACKBONES.register("fat2019_cnn2d")
class Fat2019CNN2d(nn.Module):
    """2-D CNN on (mel) spectrograms: ``num_blocks`` of (3x3 conv-BN-ReLU twice, 2x2 max pool) with deep
    supervision.

    ``aggregation="gru"`` adds the write-up's recurrent variant: the last block's features, max-pooled over
    frequency, go through a bidirectional GRU over time whose outputs are max-pooled over time and appended
    to the deep-supervision vector (``2 * gru_hidden_size`` more features; default hidden size: the last
    block's width). Inputs need at least ``2 ** num_blocks`` bins and frames.
    """

    first_conv = "blocks.0.conv1"  # adapted when loading weights with another number of input channels

    def __init__(
        self,
        in_chans: int = 1,
        num_blocks: int = 5,
        base_width: int = 32,
        growth_rate: float = 1.5,
        start_deep_supervision_on: int = 1,
        aggregation: str = "max",
        gru_hidden_size: int | None = None,
    ):
        super().__init__()
        _check_blocks("fat2019_cnn2d", num_blocks, base_width, growth_rate, start_deep_supervision_on)
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation={aggregation!r} is not one of 'max', 'gru'")
        widths = block_widths(num_blocks, base_width, growth_rate)
        chans = [int(in_chans), *widths]
        self.blocks = nn.ModuleList(
            ConvBlock(a, b, pool="max") for a, b in zip(chans[:-1], chans[1:], strict=True)
        )
        self.in_chans, self.widths = int(in_chans), widths
        self.start_deep_supervision_on = int(start_deep_supervision_on)
        self.num_features = sum(widths[self.start_deep_supervision_on :])
        self.gru: nn.GRU | None = None
        if aggregation == "gru":
            hidden = int(gru_hidden_size or widths[-1])
            if hidden < 1:
                raise ValueError(f"gru_hidden_size must be >= 1, got {gru_hidden_size!r}")
            self.gru = nn.GRU(widths[-1], hidden, batch_first=True, bidirectional=True)
            self.num_features += 2 * hidden

    def forward(self, x: Tensor) -> Tensor:
        min_size = 2 ** len(self.blocks)
        if x.ndim != 4 or min(x.shape[-2:]) < min_size:
            raise ValueError(
                f"fat2019_cnn2d with {len(self.blocks)} blocks needs inputs (batch, channels, F, T) with "
                f"F and T >= {min_size}, got {tuple(x.shape)}; use fewer blocks or a longer/taller input"
            )
        pooled = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index >= self.start_deep_supervision_on:
                pooled.append(x.amax(dim=(2, 3)))
        if self.gru is not None:
            sequence, _ = self.gru(x.amax(dim=2).transpose(1, 2))  # (B, T', 2 * hidden)
            pooled.append(sequence.amax(dim=1))
        return _as_map(pooled)


class ConvBlock1d(nn.Module):
    """(kernel-3 conv over time, BatchNorm, ReLU) twice, then max pooling by 2 (ceil: any length works).

    ``in_chans=None`` makes the first convolution lazy: sized by the first batch it sees.
    """

    def __init__(self, in_chans: int | None, out_chans: int):
        super().__init__()
        if in_chans is None:
            self.conv1: nn.Module = nn.LazyConv1d(out_chans, 3, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv1d(in_chans, out_chans, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(out_chans)
        self.conv2 = nn.Conv1d(out_chans, out_chans, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(out_chans)
        self.pool = nn.MaxPool1d(2, ceil_mode=True)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        return self.pool(x)


@BACKBONES.register("fat2019_cnn1d")
class Fat2019CNN1d(nn.Module):
    """1-D CNN over time on a short-window STFT: the input (B, C, F, T) is read as (B, C*F, T) sequences.

    ``num_blocks`` :class:`ConvBlock1d` s, deep supervision by a global max over time after each block from
    ``start_deep_supervision_on`` on. The first convolution needs ``C*F`` input channels, which the frontend
    decides: with ``in_bins=None`` (default) it is a lazy convolution sized by the first forward pass (a
    state dict loads into an unused model all the same: ``Tagger.from_preprocessing`` then
    ``load_state_dict`` works); give ``in_bins`` (the frontend's ``n_bins``, or the box crop's
    ``out_bins``) to build it at once, e.g. before handing parameters to an optimiser that must see
    their shapes.
    """

    def __init__(
        self,
        in_chans: int = 1,
        num_blocks: int = 5,
        base_width: int = 64,
        growth_rate: float = 1.5,
        start_deep_supervision_on: int = 1,
        in_bins: int | None = None,
    ):
        super().__init__()
        _check_blocks("fat2019_cnn1d", num_blocks, base_width, growth_rate, start_deep_supervision_on)
        if in_bins is not None and in_bins < 1:
            raise ValueError(f"fat2019_cnn1d: in_bins must be >= 1 or None, got {in_bins!r}")
        widths = block_widths(num_blocks, base_width, growth_rate)
        first = None if in_bins is None else int(in_chans) * int(in_bins)
        chans = [first, *widths]
        self.blocks = nn.ModuleList(ConvBlock1d(a, b) for a, b in zip(chans[:-1], chans[1:], strict=True))
        self.in_chans, self.in_bins, self.widths = int(in_chans), in_bins, widths
        self.start_deep_supervision_on = int(start_deep_supervision_on)
        self.num_features = sum(widths[self.start_deep_supervision_on :])

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4:
            raise ValueError(f"fat2019_cnn1d expects inputs (batch, channels, F, T), got {tuple(x.shape)}")
        conv = self.blocks[0].conv1
        if not isinstance(conv, LazyModuleMixin) and conv.in_channels != x.shape[1] * x.shape[2]:
            raise ValueError(
                f"fat2019_cnn1d was built for channels x bins = {conv.in_channels} input rows, got "
                f"{x.shape[1]} x {x.shape[2]} from {tuple(x.shape)}; set in_bins to the frontend's bins"
            )
        x = x.flatten(1, 2)
        pooled = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index >= self.start_deep_supervision_on:
                pooled.append(x.amax(dim=2))
        return _as_map(pooled)


@HEADS.register("mlp")
class MLPHead(nn.Module):
    """Global max pool over F and T, then Linear-ReLU-Dropout-Linear (FAT2019's 2-layer classifier).

    Made for the deep-supervision vectors of the ``fat2019_*`` backbones (1x1 maps), works on any map.
    """

    def __init__(self, in_features: int, num_classes: int, hidden_features: int = 256, dropout: float = 0.5):
        super().__init__()
        _check_dropout("dropout", dropout)
        if hidden_features < 1:
            raise ValueError(f"hidden_features must be >= 1, got {hidden_features!r}")
        self.in_features = int(in_features)
        self.layers = nn.Sequential(
            nn.Linear(in_features, hidden_features),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden_features, num_classes),
        )

    def forward(self, features: Tensor) -> dict[str, Tensor]:
        _check_features(features, self.in_features)
        return {"logits": self.layers(features.amax(dim=(2, 3)))}
