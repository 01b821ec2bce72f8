"""The paper's released LDM files: Lightning ``.ckpt`` checkpoints and their OmegaConf yaml.

The released training (GiannisPikoulis/dsml-thesis, ``face_reenactment/main.py``, pytorch-lightning
1.4.2) saves ``torch.save`` dicts whose ``state_dict`` is ``LatentDiffusion.state_dict()``:
``model.diffusion_model.*`` (raw U-Net), ``model_ema.*`` (LitEma: names with the dots removed, plus
``decay``/``num_updates``), ``first_stage_model.*``, ``cond_stage_model.{embedding,uncond_embedding}``
and the 12 schedule buffers un-prefixed. Full checkpoints also hold callback states keyed by the
callback *class* and optimizer states. Reading never imports pytorch_lightning and never unpickles
anything but tensors and plain containers: the callback classes in :data:`INERT_CLASSES` (an exact
list of names) become inert placeholders; any other global is refused.

Example:
    >>> import os
    >>> ref = os.path.join(os.environ.get("EMOBENCH_SHARED", "../shared"), "reference", "paper_ldm")
    >>> cfg = config_from_yaml(os.path.join(ref, "tiny_config.yaml"))  # doctest: +SKIP
    >>> model = load_released_checkpoint(os.path.join(ref, "tiny.ckpt"), cfg)  # doctest: +SKIP
    >>> model.config.unet.model_channels  # doctest: +SKIP
    32
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Mapping

import torch

from emobench.editors.ldm.config import DiffusionConfig, LDMConfig, UNetConfig, VQGANConfig
from emobench.editors.ldm.model import CheckpointError, LatentDiffusion, _strict_load
from emobench.editors.ldm.schedule import NoiseSchedule

SCHEDULE_BUFFERS = ("betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
                    "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
                    "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
                    "posterior_mean_coef1", "posterior_mean_coef2")
# The class embedder: the released ``ClassEmbedder3`` names the null embedding ``uncond_embedding``.
COND_KEYS = {"embedding.weight": "embedding.weight", "uncond_embedding.weight": "null_embedding.weight"}
LIT_EMA_COUNTERS = ("model_ema.decay", "model_ema.num_updates")


def _inert(name: str) -> type:
    """A stand-in class for a pickled reference to ``name``: holds whatever state is set, does nothing."""
    module, _, qual = name.rpartition(".")
    return type(qual, (dict,), {"__module__": module, "__doc__": f"inert placeholder for {name} (never imported)",
                                "__setstate__": lambda self, state: self.update(state or {})})


# Exact names only: Lightning 1.4 keys callback states by these classes; the paper's main.py uses the first.
INERT_CLASSES = ("pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint",
                 "pytorch_lightning.callbacks.early_stopping.EarlyStopping",
                 "pytorch_lightning.callbacks.lr_monitor.LearningRateMonitor",
                 "pytorch_lightning.utilities.parsing.AttributeDict")


def read_released(path: str | Path) -> dict[str, Any]:
    """The whole checkpoint dict, read with torch's weights-only unpickler plus the inert placeholders."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"LDM checkpoint {path} not found")
    placeholders = [(_inert(name), name) for name in INERT_CLASSES]
    try:
        with torch.serialization.safe_globals(placeholders):
            blob = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: refused to unpickle it ({first[:300]}); only tensors, plain containers "
                              f"and the Lightning callback classes {', '.join(INERT_CLASSES)} are read") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); expected the paper's "
                              "Lightning .ckpt or an emobench .safetensors") from None
    if not isinstance(blob, dict):
        raise CheckpointError(f"{path}: expected a checkpoint dict, got {type(blob).__name__}")
    return blob


def released_state_dict(blob: Mapping[str, Any], where: str) -> dict[str, torch.Tensor]:
    state = blob.get("state_dict", blob)
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{where}: expected a 'state_dict' of tensors (the Lightning layout)")
    return dict(state)


def check_schedule(state: Mapping[str, torch.Tensor], config: DiffusionConfig, where: str) -> None:
    """The checkpoint's ``betas``/``alphas_cumprod`` must be the config's schedule (float32 rounding allowed)."""
    ours = NoiseSchedule(config)
    for name, mine in (("betas", ours.betas), ("alphas_cumprod", ours.alphas_cumprod)):
        if name not in state:
            continue
        theirs = state[name].double()
        if theirs.shape != mine.shape or not torch.allclose(theirs, mine, rtol=1e-5, atol=1e-8):
            got = f"{theirs.numel()} steps, {name}[0]={float(theirs[0]):.6g}, [-1]={float(theirs[-1]):.6g}"
            want = (f"{mine.numel()} steps, {name}[0]={float(mine[0]):.6g}, [-1]={float(mine[-1]):.6g} "
                    f"(timesteps {config.timesteps}, linear_start {config.linear_start}, "
                    f"linear_end {config.linear_end})")
            raise CheckpointError(f"{where}: the checkpoint's schedule buffer {name} ({got}) differs from the "
                                  f"config's ({want}); pass the checkpoint's own yaml with config=PATH.yaml")


def _lit_ema_unet(state: Mapping[str, torch.Tensor], model: LatentDiffusion, where: str) -> dict[str, torch.Tensor]:
    ema = {k[len("model_ema."):]: v for k, v in state.items()
           if k.startswith("model_ema.") and k not in LIT_EMA_COUNTERS}
    if not ema:
        raise CheckpointError(f"{where}: no LitEma weights (model_ema.*) to edit with; use weights=raw")
    # LitEma buffer names are the module names with the dots removed ("diffusion_modelinput_blocks00weight").
    flat = {"diffusion_model" + k.replace(".", ""): k for k in model.unet.state_dict()}
    unexpected = sorted(set(ema) - set(flat))
    if unexpected:
        raise CheckpointError(f"{where}: {len(unexpected)} unexpected LitEma key(s) (model_ema.{unexpected[0]} …)")
    return {flat[k]: v for k, v in ema.items()}


def released_parts(state: Mapping[str, torch.Tensor], model: LatentDiffusion,
                   where: str) -> dict[str, tuple[torch.nn.Module, dict[str, torch.Tensor]]]:
    """The released state dict cut into emobench's modules, keys renamed: released prefix → (module, state).

    ``model_ema`` is empty when the checkpoint has no LitEma copy.
    """
    take = lambda prefix: {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}  # noqa: E731
    has_ema = any(k.startswith("model_ema.") and k not in LIT_EMA_COUNTERS for k in state)
    return {"first_stage_model": (model.first_stage, take("first_stage_model.")),
            "cond_stage_model": (model.cond, {COND_KEYS.get(k, k): v for k, v in take("cond_stage_model.").items()}),
            "model.diffusion_model": (model.unet, take("model.diffusion_model.")),
            "model_ema": (model.unet, _lit_ema_unet(state, model, where) if has_ema else {})}


def load_released_checkpoint(path: str | Path, config: LDMConfig | None = None, weights: str = "ema",
                             device: torch.device | str = "cpu") -> LatentDiffusion:
    """A :class:`LatentDiffusion` from the paper's Lightning checkpoint; strict, with a key report.

    ``config`` defaults to the paper's size (:meth:`LDMConfig.paper`); ``weights="ema"`` takes the
    LitEma U-Net, ``"raw"`` the trained one, ``"both"`` both (EMA kept as the model's shadow copy).
    """
    if weights not in ("ema", "raw", "both"):
        raise ValueError(f"weights must be 'ema', 'raw' or 'both', got {weights!r}")
    where = str(path)
    state = released_state_dict(read_released(path), where)
    config_given = config is not None
    config = config or LDMConfig.paper()
    known = ("first_stage_model.", "model.diffusion_model.", "model_ema.", "cond_stage_model.")
    stray = sorted(k for k in state if not k.startswith(known) and k not in SCHEDULE_BUFFERS)
    if stray:
        raise CheckpointError(f"{where}: {len(stray)} unexpected key(s) outside the released LatentDiffusion "
                              f"layout ({', '.join(stray[:5])})")
    check_schedule(state, config.diffusion, where)
    model = LatentDiffusion(config)
    size_hint = (f"; the {'given' if config_given else 'paper'} configuration was used: for a checkpoint of "
                 "another size pass its yaml (run: --set config=PATH.yaml; train export: --config PATH.yaml)")
    try:
        parts = released_parts(state, model, where)
        for name in ("first_stage_model", "cond_stage_model"):
            _strict_load(parts[name][0], parts[name][1], f"{where} {name}")
        if weights in ("raw", "both"):
            _strict_load(model.unet, parts["model.diffusion_model"][1], f"{where} model.diffusion_model")
        if weights == "ema":
            _strict_load(model.unet, parts["model_ema"][1], f"{where} model_ema")
        elif weights == "both" and parts["model_ema"][1]:
            model.init_ema()
            _strict_load(model.ema["unet"], parts["model_ema"][1], f"{where} model_ema")
            if "model_ema.num_updates" in state:
                model.ema_updates = int(state["model_ema.num_updates"])
    except CheckpointError as exc:
        raise CheckpointError(f"{exc}{size_hint}") from None
    return model.to(device).eval()


# ------------------------------------------------------------------------------------------ yaml

def _node(tree: Mapping[str, Any], *keys: str, where: str) -> Any:
    for key in keys:
        if not isinstance(tree, Mapping) or key not in tree:
            raise CheckpointError(f"{where}: expected key {'.'.join(keys)} (the released LDM yaml layout)")
        tree = tree[key]
    return tree


def config_from_yaml(path: str | Path) -> LDMConfig:
    """The :class:`LDMConfig` of a released-format yaml (``model.params.{unet,first_stage,cond_stage}_config``)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"LDM config {path} not found (config=PATH.yaml: the yaml the checkpoint was trained with)")
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not a readable yaml ({type(exc).__name__})") from None
    where = str(path)
    params = _node(tree, "model", "params", where=where)
    unet = _node(params, "unet_config", "params", where=where)
    dd = _node(params, "first_stage_config", "params", "ddconfig", where=where)
    vq = _node(params, "first_stage_config", "params", where=where)
    cond = _node(params, "cond_stage_config", "params", where=where)
    if unet.get("context_dim") != cond.get("embed_dim"):
        raise CheckpointError(f"{where}: unet context_dim {unet.get('context_dim')} != class embedder embed_dim "
                              f"{cond.get('embed_dim')}")
    mult = tuple(int(m) for m in unet["channel_mult"])
    # openaimodel's attention_resolutions are downsampling factors (1, 2, 4, ...): level i has factor 2**i.
    levels = tuple(i for i in range(len(mult)) if 2 ** i in {int(r) for r in unet.get("attention_resolutions", ())})
    try:
        return LDMConfig(
            first_stage=VQGANConfig(resolution=int(dd["resolution"]), in_channels=int(dd["in_channels"]),
                                    ch=int(dd["ch"]), ch_mult=tuple(int(m) for m in dd["ch_mult"]),
                                    num_res_blocks=int(dd["num_res_blocks"]),
                                    attn_resolutions=tuple(int(r) for r in dd.get("attn_resolutions", ())),
                                    z_channels=int(dd["z_channels"]), embed_dim=int(vq["embed_dim"]),
                                    n_embed=int(vq["n_embed"]), dropout=float(dd.get("dropout", 0.0))),
            unet=UNetConfig(in_channels=int(unet["in_channels"]), out_channels=int(unet["out_channels"]),
                            model_channels=int(unet["model_channels"]), channel_mult=mult,
                            num_res_blocks=int(unet["num_res_blocks"]), attention_levels=levels,
                            num_head_channels=int(unet.get("num_head_channels", 32)),
                            transformer_depth=int(unet.get("transformer_depth", 1)),
                            context_dim=int(unet["context_dim"]), dropout=float(unet.get("dropout", 0.0))),
            diffusion=DiffusionConfig(timesteps=int(params.get("timesteps", 1000)),
                                      linear_start=float(params.get("linear_start", 0.0015)),
                                      linear_end=float(params.get("linear_end", 0.0205)),
                                      label_dropout=float(cond.get("p_uncond", 0.2)),
                                      scale_factor=float(params.get("scale_factor", 1.0))),
            num_classes=int(cond["n_classes"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: unexpected value in the released yaml ({type(exc).__name__}: {exc})") from None
