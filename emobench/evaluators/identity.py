"""``identity``: CSIM, the cosine of L2-normalised face embeddings of source vs edit.

Backends (batched):
  * ``sface`` (offline default): OpenCV Zoo SFace (onnxruntime), 128-d, input 112×112 RGB in 0..255.
  * ``insightface``: any ArcFace/CosFace ONNX with buffalo_l's ``w600k_r50.onnx`` signature
    (N×3×112×112 RGB, ``(x − 127.5) / 127.5`` → 512-d), e.g. a Glint360K r50/r100 (the paper's).
  * ``synthetic-id``: the synthetic world's own identity net (:mod:`emobench.synthetic.identity_net`,
    trained on the disjoint ``identity`` split). Renders are aligned by construction, so it embeds
    the whole frame and never detects (``detect`` does not apply; the flags are NaN: not checked).

Faces are found by YuNet and warped to the ArcFace 5-point template; ``source_face_detected``
and ``face_detected`` record, per pair, whether each side was aligned. A pair with a side the
detector missed mixes an aligned crop with a whole image resized to 112 — its cosine measures
the crop, not the person — so by default (``on_no_face = "exclude"``) its CSIM is NaN and the
report counts it as a missing face instead. ``on_no_face = "center"`` is the old behaviour
(such pairs embed the whole crop and are folded into the mean); ``"nan"`` is the older name of
``"exclude"``. The released paper script forgot to L2-normalise; we do not.

Example:
    >>> import torch
    >>> ev = IdentityEvaluator.from_config({"backend": "synthetic-id"})
    >>> x = torch.rand(2, 3, 128, 128)
    >>> ev.evaluate(EvalBatch(x, x, torch.tensor([0, 0]), torch.tensor([1, 1])))["csim"].round(3)
    array([1., 1.])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from emobench.options import options_from_mapping
from emobench.evaluators.cache import FeatureCache
from emobench.evaluators.base import EvalBatch, Evaluator, EvaluatorInfo, MetricInfo
from emobench.faces.align import arcface_align
from emobench.faces.face import choose_face
from emobench.evaluators import IDENTITY_NETS
from emobench.faces import DETECTORS, make_detector
from emobench.imageio import to_uint8
from emobench.weights import ASSETS, resolve, sha256_file

BACKENDS = ("sface", "insightface", "synthetic-id")
NO_FACE_POLICIES = ("exclude", "center", "nan")


@dataclass(frozen=True)
class IdentityOptions:
    """backend: sface | insightface | synthetic-id; model: ONNX path, or an insightface pack name (buffalo_l,
    the default, or antelopev2) found in $EMOBENCH_WEIGHTS, the cache or insightface's own
    ~/.insightface/models/<pack>/, or a safetensors path (synthetic-id; default: the packaged net);
    detect: find and align faces (sface/insightface); on_no_face: exclude (CSIM only where both sides are
    aligned) | center (old behaviour: fold unaligned whole-image crops in) | nan (= exclude);
    face_policy: largest | error;
    cache_size: source embeddings kept in memory; disk_cache: also keep them as .npy under EMOBENCH_HOME;
    face_backend: yunet (offline default) | mtcnn | fan (needs the face-alignment package)."""

    backend: str = "sface"
    model: str = ""
    detect: bool = True
    on_no_face: str = "exclude"
    face_policy: str = "largest"
    cache_size: int = 4096
    disk_cache: bool = False
    face_backend: str = "yunet"


def onnx_session(path: Path, device: torch.device | str = "cpu"):
    """An onnxruntime session with unused graph inputs dropped and a dynamic batch dimension.

    SFace lists its weights as graph inputs, which OpenCV 5's DNN and onnxruntime's batch
    handling trip over; removing them (they are initializers) and freeing dim 0 fixes both.
    """
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    used = {name for node in model.graph.node for name in node.input}
    inits = {i.name for i in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in inits and i.name in used]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    if len(keep) != 1:
        raise ValueError(f"{path}: expected one image input, got {[i.name for i in keep]}")
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].dim_param = "N"
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # One thread budget for the process: onnxruntime follows torch's (what --threads sets) instead of
    # starting one thread per core beside torch's, which oversubscribes small machines.
    opts.intra_op_num_threads = torch.get_num_threads()
    opts.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if torch.device(device).type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    return ort.InferenceSession(model.SerializeToString(), opts, providers=providers)


INSIGHTFACE_PACKS = {"buffalo_l": "insightface-buffalo_l", "antelopev2": "insightface-antelopev2"}


def model_path(options: IdentityOptions) -> Path:
    """The ONNX file of the backend: ``model`` as a path, an insightface pack name (``buffalo_l``,
    ``antelopev2``: found in ``$EMOBENCH_WEIGHTS``, the cache or ``~/.insightface/models/<pack>/``), or the
    default (sface's asset; insightface's buffalo_l); for ``synthetic-id`` the safetensors file (default:
    the packaged net)."""
    if options.backend in IDENTITY_NETS:
        return Path(options.model).expanduser() if options.model else IDENTITY_NETS.get(options.backend).default_weights
    if options.backend == "sface":
        return Path(options.model).expanduser() if options.model else resolve("sface")
    pack = options.model or "buffalo_l"
    if pack in INSIGHTFACE_PACKS:
        return resolve(INSIGHTFACE_PACKS[pack])
    return Path(pack).expanduser()


class IdentityEvaluator(Evaluator):
    """Identity similarity between each source and its edit."""

    name = "identity"
    path_options = ("model",)

    def __init__(self, options: IdentityOptions, device: torch.device | str = "cpu"):
        if options.backend not in BACKENDS:
            raise ValueError(f"identity: backend must be one of {', '.join(BACKENDS)}, got {options.backend!r}")
        if options.face_policy not in ("largest", "error"):
            raise ValueError(f"identity: face_policy must be 'largest' or 'error', got {options.face_policy!r}")
        if options.face_backend not in DETECTORS:
            raise ValueError(f"identity: face_backend must be one of {', '.join(DETECTORS.names())}, "
                             f"got {options.face_backend!r}")
        if options.on_no_face not in NO_FACE_POLICIES:
            raise ValueError(f"identity: on_no_face must be one of {', '.join(NO_FACE_POLICIES)}, "
                             f"got {options.on_no_face!r}")
        self.options = options
        self._net = self._session = None
        path = model_path(options)
        if options.backend in IDENTITY_NETS:
            self._backend = IDENTITY_NETS.get(options.backend)
            self._net = self._backend.load(path, device)
            self.sha256 = sha256_file(path)
        else:
            if not path.is_file():
                raise FileNotFoundError(f"identity: model file {path} not found")
            self.sha256 = (ASSETS["sface"].sha256 if options.backend == "sface" and not options.model
                           else sha256_file(path))
            self._session = onnx_session(path, device)
            self._input = self._session.get_inputs()[0].name
        self.model_path = path
        # Renders of the synthetic world are aligned by construction: synthetic-id never detects.
        self.detects = options.detect and options.backend != "synthetic-id"
        self._detector = make_detector(options.face_backend, str(device)) if self.detects else None
        # Features depend on the model and on detection/alignment settings: all go into the cache key.
        variant = f"{options.backend}-{options.face_backend if self.detects else 'nodetect'}-{options.face_policy}"
        self.cache = FeatureCache(variant, self.sha256 or "", capacity=options.cache_size,
                                  disk=options.disk_cache)

    @classmethod
    def from_config(cls, options: Mapping[str, Any], device: torch.device | str = "cpu") -> "IdentityEvaluator":
        return cls(options_from_mapping(IdentityOptions, options, "identity evaluator options"), device)

    @property
    def excludes_unaligned(self) -> bool:
        """True when a pair with a side the detector missed gets NaN CSIM (``exclude``/``nan``)."""
        return self.options.on_no_face != "center"

    def info(self) -> EvaluatorInfo:
        weights = {self.model_path.name: self.sha256}
        if self._detector is not None:
            names = {"yunet": ("yunet",), "mtcnn": ("mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet")}
            for name in names.get(self.options.face_backend, ()):
                weights[ASSETS[name].relpath] = ASSETS[name].sha256
        alignment = "arcface-5pt-112" if self.detects else (
            "whole frame (synthetic renders are aligned by construction)" if self._net is not None
            else "whole frame resized to 112 (detect = false)")
        return EvaluatorInfo(self.name, self.options.backend, weights,
                             {"detect": self.detects, "face_backend": self.options.face_backend,
                              "face_policy": self.options.face_policy, "on_no_face": self.options.on_no_face,
                              "alignment": alignment})

    def metrics(self) -> list[MetricInfo]:
        return [MetricInfo("csim", True, f"cosine identity similarity source vs edit ({self.options.backend})"),
                MetricInfo("face_detected", True, "1 if a face was detected in the edit, 0 if not, NaN: not checked"),
                MetricInfo("source_face_detected", True,
                           "1 if a face was detected in the source, 0 if not, NaN: not checked")]

    def _crop(self, image: torch.Tensor) -> tuple[np.ndarray, bool]:
        """112×112 RGB uint8 crop and whether a face was detected."""
        import cv2

        rgb = to_uint8(image)
        if self._detector is not None:
            faces = self._detector.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            if faces:
                face = choose_face(faces, self.options.face_policy)
                return arcface_align(rgb, face.landmarks, 112), True
        return cv2.resize(rgb, (112, 112), interpolation=cv2.INTER_AREA), False

    def embed(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """L2-normalised embeddings ``(N, D)`` and detection flags ``(N,)`` (1, 0, or NaN when not checked)
        of a batch in [0, 1]."""
        if self._net is not None:
            return self._backend.embed(self._net, images), np.full(images.shape[0], np.nan)
        crops, found = zip(*(self._crop(img) for img in images))
        x = np.stack(crops).astype(np.float32).transpose(0, 3, 1, 2)
        if self.options.backend == "insightface":
            x = (x - 127.5) / 127.5
        emb = self._session.run(None, {self._input: np.ascontiguousarray(x)})[0].astype(np.float64)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True) + 1e-12
        flags = np.array(found, dtype=np.float64) if self.detects else np.full(len(found), np.nan)
        return emb, flags

    def _source_embeddings(self, batch: EvalBatch) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of the sources; cached by (backend, weights sha, source key) when keys are given."""
        keys = list(batch.source_keys) if batch.source_keys is not None else [None] * batch.size
        rows: list[np.ndarray | None] = [None if k is None else self.cache.get(k) for k in keys]
        missing = [i for i, r in enumerate(rows) if r is None]
        if missing:
            emb, found = self.embed(batch.sources[missing])
            for j, i in enumerate(missing):
                # One row = embedding + detection flag, so a cached source keeps its flag.
                rows[i] = np.append(emb[j], found[j])
                if keys[i] is not None:
                    self.cache.put(keys[i], rows[i])
        table = np.stack(rows)
        return table[:, :-1], table[:, -1]

    def similarity(self, first: np.ndarray, first_found: np.ndarray, second: np.ndarray,
                   second_found: np.ndarray) -> np.ndarray:
        """Cosines of paired unit embeddings; NaN where a side's face was missed, unless ``on_no_face = center``.

        Example:
            >>> ev = IdentityEvaluator.from_config({"backend": "synthetic-id"})
            >>> e = np.eye(2)
            >>> ev.similarity(e, np.array([1.0, 0.0]), e, np.array([1.0, 1.0])).tolist()
            [1.0, nan]
        """
        cos = (first * second).sum(1)
        if self.excludes_unaligned:
            # NaN flags mean "not checked" (no detection): those pairs count as aligned.
            missed = (first_found == 0) | (second_found == 0)
            cos = np.where(missed, np.nan, cos)
        return cos

    def evaluate(self, batch: EvalBatch) -> dict[str, np.ndarray]:
        src, src_found = self._source_embeddings(batch)
        edit, edit_found = self.embed(batch.edits)
        return {"csim": self.similarity(src, src_found, edit, edit_found), "face_detected": edit_found,
                "source_face_detected": src_found}
