"""Face detection (YuNet via OpenCV by default) and alignment (ArcFace 5-point, the paper's eye-line crop)."""
