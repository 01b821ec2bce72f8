"""DDP training with two real gloo ranks on CPU: replicas stay equal after every step, and the
checkpoint rank 0 saves equals every rank's model (DESIGN §9: multi-process code is tested with
real processes, not mocks)."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from emobench.train.ldm import train_ldm, train_vqgan
from tests.editors.ldm.test_editor_trainer import _tiny_cfg


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, cfg, out: str, dump: str) -> None:
    import os

    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)

    def on_step(step, model):
        state = {f"unet.{k}": v.clone() for k, v in model.unet.state_dict().items()}
        state.update({f"cond.{k}": v.clone() for k, v in model.cond.state_dict().items()})
        state.update({f"ema.{k}": v.clone() for k, v in model.ema["unet"].state_dict().items()})
        torch.save(state, Path(dump) / f"rank{rank}_step{step}.pt")

    try:
        train_ldm(cfg, Path(out), log=lambda line: None, on_step=on_step)
    finally:
        torch.distributed.destroy_process_group()


def test_two_gloo_ranks_keep_equal_replicas_and_save_them(tmp_path):
    stage = train_vqgan(_tiny_cfg(steps=1, val_every=100, ckpt_every=1), tmp_path / "vq", log=lambda line: None)
    steps = 4
    cfg = _tiny_cfg(first_stage=str(stage), steps=steps, val_every=100, ckpt_every=steps, grad_accum=2,
                    batch_size=2)
    dump = tmp_path / "dump"
    dump.mkdir()
    mp.start_processes(_worker, args=(2, _free_port(), cfg, str(tmp_path / "ldm"), str(dump)), nprocs=2,
                       start_method="spawn", join=True)
    for step in range(1, steps + 1):
        a = torch.load(dump / f"rank0_step{step}.pt", weights_only=True)
        b = torch.load(dump / f"rank1_step{step}.pt", weights_only=True)
        for k in a:
            assert torch.equal(a[k], b[k]), f"step {step}: ranks differ in {k}"
    first = torch.load(dump / "rank0_step1.pt", weights_only=True)
    assert any(not torch.equal(first[k], a[k]) for k in a if k.startswith("unet."))  # training moved them
    from emobench.editors.ldm.model import load_checkpoint

    saved = load_checkpoint(tmp_path / "ldm" / "last.safetensors", weights="both")
    for k, v in saved.unet.state_dict().items():
        assert torch.equal(v, a[f"unet.{k}"]), k
    for k, v in saved.ema["unet"].state_dict().items():
        assert torch.equal(v, a[f"ema.{k}"]), k
