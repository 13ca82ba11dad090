"""The frontend contract: a torch module turning waveforms into spectrogram images inside the model.

A frontend maps ``wave`` shaped ``(batch, samples)`` to ``(batch, channels, freq_bins, frames)`` float32:

    wave (B, N) --STFT--> power (B, n_fft//2+1, T) --project--> (B, F, T) --scale--> dB / log
                --normalize--> per-bin / batchnorm --[+ frequency coordinate channel]--> (B, C, F, T)

Frequency bin 0 is the lowest frequency; frame ``t`` is centred on sample ``t * hop_length``
(``center=True``), so ``num_frames(n) == n // hop_length + 1``. Subclasses only choose the projection
(linear bins, mel bands); scaling, normalisation and the coordinate channel are shared here, all set by
one :class:`~wildtag.features.settings.SpectrogramSettings`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from wildtag.features.settings import NORMALIZATIONS, SCALES, SpectrogramSettings
from wildtag.registry import Registry

FRONTENDS: Registry[Frontend] = Registry("frontend")

__all__ = ["FRONTENDS", "NORMALIZATIONS", "SCALES", "Frontend", "create_frontend", "list_frontends", "shares_frames"]

_LOG_OFFSET = 1e-6
_NORM_EPS = 1e-5


def create_frontend(name: str, /, **kwargs: object) -> Frontend:
    """Build the frontend registered under ``name``.

    >>> frontend = create_frontend("logmel", sample_rate=32000, n_mels=64)
    >>> frontend(torch.zeros(2, 32000)).shape
    torch.Size([2, 1, 64, 101])
    """
    return FRONTENDS.create(name, **kwargs)


def shares_frames(frontend: object) -> bool:
    """Whether ``frontend`` computes :meth:`Frontend.scaled_windows` / :meth:`Frontend.finish` as its forward
    (the STFT and log-mel frontends; not the two-channel or embedding ones)."""
    return isinstance(frontend, Frontend) and type(frontend).forward is Frontend.forward


def slices(signal: Tensor, starts: Tensor, length: int) -> Tensor:
    """``signal[s : s + length]`` for each ``s`` in ``starts``, stacked ``(n, length)``: contiguous copies, which
    is ~15x faster on the CPU than gathering by an index tensor."""
    return torch.stack([signal[s : s + length] for s in starts.tolist()])


def list_frontends(pattern: str = "*") -> list[str]:
    """Names of the registered frontends matching a shell-style ``pattern``."""
    return FRONTENDS.list(pattern)


class Frontend(nn.Module):
    """Base class of waveform -> ``(B, C, F, T)`` spectrogram frontends (STFT in float32, on any device).

    Attributes: ``settings`` (a :class:`~wildtag.features.settings.SpectrogramSettings`), its fields
    (``n_fft``, ``hop_length``, ``win_length``, ``power``, ``scale``, ...), ``sample_rate``, ``n_bins`` (F),
    ``out_channels`` (C: 1, or 2 with the frequency coordinate channel), ``frames_per_s`` and the buffer
    ``freq_hz`` (the centre frequency of each output bin, ascending).
    """

    def __init__(self, sample_rate: int, settings: SpectrogramSettings, freq_hz: Tensor):
        super().__init__()
        if not sample_rate > 0:
            raise ValueError(f"sample_rate must be > 0, got {sample_rate!r}")
        if freq_hz.ndim != 1 or len(freq_hz) == 0:
            raise ValueError("a frontend needs at least one output frequency bin")
        self.settings = settings
        self.sample_rate = int(sample_rate)
        self.n_fft = int(settings.n_fft)
        self.hop_length = int(settings.hop_length)
        self.win_length = settings.window_length
        self.power = float(settings.power)
        self.scale = settings.scale
        self.top_db = None if settings.top_db is None else float(settings.top_db)
        self.normalize = settings.normalize
        self.freq_coord = bool(settings.freq_coord)
        self.n_bins = len(freq_hz)
        self.out_channels = 2 if self.freq_coord else 1
        # Derived from the settings, so left out of the state dict.
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)
        self.register_buffer("freq_hz", freq_hz.to(torch.float32), persistent=False)
        # PANNs' "bn0": one BatchNorm channel per frequency bin.
        self.bn = nn.BatchNorm2d(self.n_bins) if self.normalize == "batchnorm" else None

    @property
    def frames_per_s(self) -> float:
        """Spectrogram frames per second of audio."""
        return self.sample_rate / self.hop_length

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for a waveform of ``num_samples`` (centred STFT)."""
        return int(num_samples) // self.hop_length + 1

    def project(self, spec: Tensor) -> Tensor:
        """Map the one-sided STFT ``|X|**power`` (B, n_fft//2+1, T) to the output bins (B, F, T)."""
        raise NotImplementedError

    def forward(self, wave: Tensor) -> Tensor:
        """Spectrogram images ``(B, C, F, T)`` float32 of waveforms ``(B, N)`` (or ``(B, 1, N)``)."""
        return self.finish(self.scaled(wave))

    def scaled(self, wave: Tensor) -> Tensor:
        """The first half of :meth:`forward`: projected and scaled (dB / log), not normalised, ``(B, 1, F, T)``.

        What it gives depends only on the settings (no learnt weights), so the fold models of one run
        share it; :meth:`finish` does the rest.
        """
        wave = self._check_wave(wave)
        # The STFT, the dB scale and the statistics lose too much in float16: always float32.
        with torch.autocast(device_type=wave.device.type, enabled=False):
            return self._scale(self.project(self._stft_power(wave.float()))).unsqueeze(1)

    def finish(self, spec: Tensor) -> Tensor:
        """The second half of :meth:`forward`: normalisation and the coordinate channel of :meth:`scaled`'s output."""
        with torch.autocast(device_type=spec.device.type, enabled=False):
            spec = self._normalize(spec.float())
            if self.freq_coord:
                spec = torch.cat([spec, self._freq_coord(spec)], dim=1)
        return spec

    def scaled_windows(self, signal: Tensor, starts: Tensor, window_n: int) -> Tensor:
        """:meth:`scaled` of the windows ``signal[s : s + window_n]`` for ``s`` in ``starts``, from one STFT.

        Equal to ``self.scaled(torch.stack([signal[s : s + window_n] for s in starts]))`` (within float
        rounding) but computes each frame once where windows overlap: the frames whose FFT support lies
        inside a window come from one STFT of ``signal``; the few frames at each window's edges, where the
        per-window STFT reflects at the window's ends, are computed per window (in one batched call).
        That needs window starts a whole number of STFT hops apart: starts that are not (an end-aligned
        last window) are computed per window. ``signal`` is 1-d; every window must lie inside it.
        """
        if signal.ndim != 1:
            raise ValueError(f"expected a 1-d signal, got shape {tuple(signal.shape)}")
        starts = torch.as_tensor(starts, dtype=torch.long).flatten()
        if len(starts) == 0:
            raise ValueError("no window starts given")
        if int(starts.min()) < 0 or int(starts.max()) + window_n > len(signal):
            raise ValueError(f"windows of {window_n} samples at starts {int(starts.min())}..{int(starts.max())} "
                             f"do not lie inside a signal of {len(signal)} samples")
        with torch.autocast(device_type=signal.device.type, enabled=False):
            signal = signal.float()
            hop, half = self.hop_length, self.n_fft // 2
            t_lo = -(-half // hop)  # first frame whose support starts inside the window
            t_hi = (window_n - self.n_fft + half) // hop  # last frame whose support ends inside it
            aligned = (starts - starts[0]) % hop == 0
            if t_hi < t_lo or self._tail_from(window_n, t_hi) < t_lo * hop or int(aligned.sum()) < 2:
                # windows too short for interior frames, or one window on the frame grid: nothing to share
                aligned[:] = False
            out = None
            any_aligned = bool(aligned.any())
            if not bool(aligned.all()):
                rest = starts[~aligned]
                waves = slices(signal, rest, window_n)
                per_window = self.project(self._stft_power(self._check_wave(waves)))
                if not any_aligned:  # every window computed alone (short files): no scatter into a new tensor
                    return self._scale(per_window).unsqueeze(1)
                out = per_window.new_empty(len(starts), *per_window.shape[1:])
                out[~aligned] = per_window
            if any_aligned:
                shared = self._shared_frames(signal, starts[aligned], window_n, t_lo, t_hi)
                if out is None:
                    out = shared
                else:
                    out[aligned] = shared
            return self._scale(out).unsqueeze(1)

    def _tail_from(self, window_n: int, t_hi: int) -> int:
        """Where the per-window STFT of a window's last frames starts: whole hops into the window, before the
        support of frame ``t_hi + 1`` and more than ``n_fft // 2`` samples before the window's end."""
        hop, half = self.hop_length, self.n_fft // 2
        return min((t_hi + 1) * hop - half, window_n - half - 1) // hop * hop

    def _shared_frames(self, signal: Tensor, starts: Tensor, window_n: int, t_lo: int, t_hi: int) -> Tensor:
        """Projected frames ``(n, F, T)`` of windows whose starts are whole hops apart (see :meth:`scaled_windows`)."""
        hop, half, n_fft = self.hop_length, self.n_fft // 2, self.n_fft
        first = int(starts.min())
        # Interior frames: frame j of an uncentred STFT from `a` is centred on first + (t_lo + j) * hop.
        a = first + t_lo * hop - half
        b = int(starts.max()) + t_hi * hop - half + n_fft
        block = self.project(self._stft(signal[a:b].unsqueeze(0), center=False))[0]  # (F, J)
        index = ((starts - first) // hop)[:, None] + torch.arange(t_hi - t_lo + 1, device=signal.device)
        interior = block[:, index].permute(1, 0, 2)  # (n, F, t_hi - t_lo + 1)
        # Edge frames, with the per-window STFT's reflection at each window's ends.
        # reflect padding needs more than `half` samples; samples beyond a needed frame's support change nothing
        head_n = min(window_n, max((t_lo - 1) * hop - half + n_fft, half + 1))
        tail_from = self._tail_from(window_n, t_hi)
        parts = []
        if t_lo > 0:
            heads = slices(signal, starts, head_n)
            parts.append(self.project(self._stft_power(heads))[..., :t_lo])
        parts.append(interior)
        tails = slices(signal, starts + tail_from, window_n - tail_from)
        parts.append(self.project(self._stft_power(tails))[..., t_hi + 1 - tail_from // hop :])
        return torch.cat(parts, dim=-1)

    def _freq_coord(self, spec: Tensor) -> Tensor:
        """The coordinate channel (B, 1, F, T) for ``spec`` (B, C, F, T): -1 at the lowest bin, 1 at the highest."""
        coord = torch.linspace(-1.0, 1.0, self.n_bins, device=spec.device, dtype=spec.dtype)
        return coord.view(1, 1, -1, 1).expand(spec.shape[0], 1, -1, spec.shape[-1])

    def _check_wave(self, wave: Tensor) -> Tensor:
        if wave.ndim == 3 and wave.shape[1] == 1:
            wave = wave[:, 0]
        if wave.ndim != 2:
            raise ValueError(f"expected waveforms shaped (batch, samples), got {tuple(wave.shape)}")
        if wave.shape[-1] <= self.n_fft // 2:
            raise ValueError(
                f"waveforms of {wave.shape[-1]} samples are too short for n_fft={self.n_fft}: "
                f"need more than {self.n_fft // 2} samples ({(self.n_fft // 2 + 1) / self.sample_rate:.4f} s)"
            )
        return wave

    def _stft_power(self, wave: Tensor) -> Tensor:
        return self._stft(wave, center=True)

    def _stft(self, wave: Tensor, center: bool) -> Tensor:
        """``|STFT|**power`` (B, n_fft//2+1, T); centred with reflect padding, or uncentred (no padding)."""
        stft = torch.stft(
            wave,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window.float(),  # float32 even if the model was cast to half
            center=center,
            pad_mode="reflect",
            return_complex=True,
        )
        if self.power == 2.0:  # re * re + im * im in two passes over the frames, not three
            parts = torch.view_as_real(stft)
            return torch.addcmul(parts[..., 0] * parts[..., 0], parts[..., 1], parts[..., 1])
        magnitude = stft.abs()
        return magnitude if self.power == 1.0 else magnitude.pow(self.power)

    def _scale(self, spec: Tensor) -> Tensor:
        if self.scale == "log":
            return torch.log(spec + _LOG_OFFSET)
        if self.scale == "none":
            return spec
        # dB of |X|**power: 10*log10(|X|**2) = (20 / power) * log10(|X|**power); floor |X|**2 at 1e-10.
        amin = 1e-10 ** (self.power / 2.0)
        db = (20.0 / self.power) * torch.log10(spec.clamp_min(amin))
        if self.top_db is not None:
            floor = db.amax(dim=(-2, -1), keepdim=True) - self.top_db
            db = torch.maximum(db, floor)
        return db

    def _normalize(self, spec: Tensor) -> Tensor:
        if self.normalize == "per_bin":
            # Shifted by each bin's first frame: a constant bin (digital silence at the dB floor) is then exactly
            # 0, not the float rounding of its mean divided by the epsilon (noise up to ~1 that differed between
            # torch and onnxruntime); for other bins the same standardisation, with less cancellation.
            shifted = spec - spec[..., :1]
            centred = shifted - shifted.mean(dim=-1, keepdim=True)
            std = centred.square().mean(dim=-1, keepdim=True).sqrt()
            return centred / std.clamp_min(_NORM_EPS)
        if self.normalize == "batchnorm":
            return self.bn(spec.transpose(1, 2)).transpose(1, 2)
        return spec

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, n_fft={self.n_fft}, hop_length={self.hop_length}, "
            f"n_bins={self.n_bins}, scale={self.scale!r}, normalize={self.normalize!r}, "
            f"freq_coord={self.freq_coord}"
        )

