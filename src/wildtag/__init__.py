"""wildtag: train and run sound taggers for wildlife and environmental audio."""

__version__ = "0.1.0"
