"""A chain of waveform augmentations that can be switched off from a given epoch on."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from wildtag.augment.waveform.base import WAVEFORM_AUGMENTS, WaveformAugment

WaveformTransform = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


class WaveformPipeline:
    """Apply ``transforms`` in order, each with its own probability, all drawing from one generator.

    From epoch ``off_epoch`` on it is the identity: the last epochs train on clean audio, as the FAT 2019
    winner did (``None``: never off). The training loop sets :attr:`epoch`; in DataLoader workers it must
    reach the workers' copies (e.g. recreate them each epoch, or set it in ``worker_init_fn``).

    >>> pipeline = WaveformPipeline.from_specs([{"name": "gain", "p": 0.5}, {"name": "reverb"}], off_epoch=15)
    >>> y = pipeline(x, 32000, np.random.default_rng(0))
    """

    def __init__(self, transforms: Sequence[WaveformTransform], off_epoch: int | None = None):
        for i, transform in enumerate(transforms):
            if not callable(transform):
                raise ValueError(f"waveform pipeline transform {i} is not callable: {transform!r}")
        if off_epoch is not None and (
            isinstance(off_epoch, bool) or not isinstance(off_epoch, int) or off_epoch < 0
        ):
            raise ValueError(f"off_epoch must be a whole number >= 0 or None, got {off_epoch!r}")
        self.transforms: list[WaveformTransform] = list(transforms)
        self.off_epoch = off_epoch
        self.epoch = 0

    @property
    def active(self) -> bool:
        """Whether the transforms run at the current :attr:`epoch`."""
        return self.off_epoch is None or self.epoch < self.off_epoch

    def __call__(self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        """``samples`` through every transform (float32, same length); unchanged once switched off."""
        x = np.asarray(samples, dtype=np.float32)
        if not self.active:
            return x
        for transform in self.transforms:
            x = transform(x, sample_rate, rng)
        return x

    @classmethod
    def from_specs(
        cls, specs: Sequence[Mapping[str, object]], off_epoch: int | None = None
    ) -> WaveformPipeline:
        """Build from recipe entries ``[{"name": "gain", "min_gain_db": -6, "p": 0.5}, ...]``.

        An unknown name raises :class:`~wildtag.registry.UnknownNameError` with the close matches; a
        missing name or a wrong keyword raises ``ValueError`` naming the entry.
        """
        transforms: list[WaveformAugment] = []
        for i, spec in enumerate(specs):
            if not isinstance(spec, Mapping) or "name" not in spec:
                raise ValueError(f"waveform augmentation {i} needs a 'name' key, got {spec!r}")
            kwargs = dict(spec)
            name = kwargs.pop("name")
            factory = WAVEFORM_AUGMENTS.get(str(name))
            try:
                transforms.append(factory(**kwargs))
            except TypeError as error:  # an unknown or misspelt keyword
                raise ValueError(f"waveform augmentation {i} ({name!r}): {error}") from None
        return cls(transforms, off_epoch=off_epoch)

    def __repr__(self) -> str:
        return f"WaveformPipeline({self.transforms!r}, off_epoch={self.off_epoch!r})"
