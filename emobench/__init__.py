"""emobench: a benchmark and evaluation suite for image-based facial emotion manipulation."""

__version__ = "0.1.0"
