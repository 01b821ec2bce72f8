"""Which GPU and which shard a process takes from its launcher's variables (torchrun, SLURM)."""

from __future__ import annotations

import pytest

from emobench.building import auto_device
from emobench.errors import UserError
from emobench.runner import shard_from_env


@pytest.mark.parametrize("environ,gpus,device", [
    ({}, 0, "cpu"), ({"LOCAL_RANK": "1"}, 0, "cpu"), ({}, 1, "cuda"), ({"LOCAL_RANK": "3"}, 4, "cuda:3"),
    ({"SLURM_LOCALID": "1"}, 2, "cuda:1"), ({"LOCAL_RANK": "0", "SLURM_LOCALID": "1"}, 2, "cuda:0"),
])
def test_auto_device_gives_each_rank_its_own_gpu(environ, gpus, device):
    assert auto_device(environ, gpus) == device


def test_a_rank_beyond_the_visible_gpus_is_one_clear_error():
    with pytest.raises(UserError, match=r"LOCAL_RANK=2, but 2 CUDA device\(s\) are visible"):
        auto_device({"LOCAL_RANK": "2"}, 2)


@pytest.mark.parametrize("environ,shard", [
    ({"RANK": "1", "WORLD_SIZE": "4"}, (1, 4)),
    ({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "16"}, (5, 16)),
    ({"SLURM_PROCID": "2", "SLURM_NTASKS": "3"}, (2, 3)),
    ({"RANK": "0", "WORLD_SIZE": "2", "SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "16"}, (0, 2)),
    ({}, None),
])
def test_shard_from_torchrun_or_slurm(environ, shard):
    assert shard_from_env(environ) == shard


def test_a_slurm_array_numbered_from_one_is_refused_with_the_fix():
    with pytest.raises(UserError, match="--array=0-N-1"):
        shard_from_env({"SLURM_ARRAY_TASK_ID": "16", "SLURM_ARRAY_TASK_COUNT": "16"})
