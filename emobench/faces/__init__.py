"""Faces: detection (YuNet via OpenCV by default, MTCNN, FAN), the paper's and ArcFace's alignments, a cache.

Face detectors are plugins like editors and evaluators: registered by name, third-party ones join
through the ``emobench.face_detectors`` entry-point group. Each is a class with ``create(device)``
whose ``detect(image_bgr)`` returns :class:`emobench.faces.face.Face` lists, best first.

Example:
    >>> from emobench.faces import DETECTORS, make_detector
    >>> DETECTORS.names()
    ['fan', 'mtcnn', 'yunet']
    >>> make_detector("dlib")
    Traceback (most recent call last):
    ...
    emobench.registry.UnknownNameError: unknown face detector 'dlib'. Run `emobench list` to see every name.
"""

from emobench.registry import Registry

DETECTORS = Registry(
    "face detector",
    {
        "yunet": "emobench.faces.detect:YuNetDetector",
        "mtcnn": "emobench.faces.mtcnn:MTCNNDetector",
        "fan": "emobench.faces.fan:FANDetector",
    },
    entry_point_group="emobench.face_detectors",
)


def make_detector(backend: str = "yunet", device: str = "cpu"):
    """A face detector by registered name: ``yunet`` (default, offline, OpenCV), ``mtcnn`` (torch,
    facenet-pytorch weights) or ``fan`` (needs the face-alignment package)."""
    return DETECTORS.get(backend).create(device)
