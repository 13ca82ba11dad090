"""An ordered chain of spectrogram augmentations, built from recipe entries ``{name: ..., **kwargs}``.

>>> pipeline = SpecAugmentPipeline.from_specs(
...     [{"name": "power"}, {"name": "time_stripes", "channels": [0]}], generator=torch.Generator()
... )
>>> pipeline(torch.randn(4, 2, 64, 128)).shape
torch.Size([4, 2, 64, 128])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .base import SPEC_AUGMENTS


class SpecAugmentPipeline(nn.Module):
    """Applies its augmentations in order; the identity when empty or in eval mode."""

    def __init__(self, augments: Sequence[nn.Module] = ()):
        super().__init__()
        self.augments = nn.ModuleList(augments)

    @classmethod
    def from_specs(
        cls, specs: Sequence[Mapping[str, Any]], generator: torch.Generator | None = None
    ) -> SpecAugmentPipeline:
        """Build from entries like ``{"name": "time_stripes", "p": 0.5}``, sharing one ``generator``."""
        augments = []
        for index, spec in enumerate(specs):
            if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
                raise ValueError(
                    f"spectrogram augmentation #{index} must be a mapping with a 'name' "
                    f"(one of {', '.join(SPEC_AUGMENTS.list())}), got {spec!r}"
                )
            kwargs = {key: value for key, value in spec.items() if key != "name"}
            if "generator" in kwargs:
                raise ValueError(f"spectrogram augmentation #{index}: pass the generator to from_specs")
            factory = SPEC_AUGMENTS.get(spec["name"])
            try:
                augments.append(factory(generator=generator, **kwargs))
            except TypeError as error:  # an unknown keyword: name the entry
                raise ValueError(f"spectrogram augmentation #{index} ({spec['name']!r}): {error}") from None
        return cls(augments)

    @property
    def generator(self) -> torch.Generator | None:
        """The generator of the first augmentation (all share one when built by ``from_specs``)."""
        return self.augments[0].generator if len(self.augments) else None

    @generator.setter
    def generator(self, generator: torch.Generator | None) -> None:
        for augment in self.augments:
            augment.generator = generator

    def forward(self, spec: Tensor) -> Tensor:
        for augment in self.augments:
            spec = augment(spec)
        return spec

    def __len__(self) -> int:
        return len(self.augments)
