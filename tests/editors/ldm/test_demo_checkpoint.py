"""The packaged demo checkpoint meets issue 4's bounds on held-out synthetic faces (slow)."""

from __future__ import annotations

import pytest
import torch

from emobench.editors import EDITORS
from emobench.evaluators import EMOTION_BACKENDS
from emobench.evaluators.quality import psnr_ssim
from emobench.synthetic import Expression, identities, render_batch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def editor():
    return EDITORS.get("ldm").from_config({"checkpoint": "demo"})


def test_source_equals_target_reconstructs_the_first_stage(editor):
    people = identities("test", 2)
    labels = [0, 1, 2, 3]
    x = render_batch([p for p in people for _ in labels], [Expression.prototype(c) for _ in people for c in labels],
                     editor.resolution)
    y = torch.tensor(labels * 2)
    with torch.inference_mode():
        recon = editor.model.decode_latents(editor.model.encode_images(x))
    out = editor.edit(x, y, y).images  # paper settings: t0=500, 40 steps, γ=3
    assert float(psnr_ssim(out, recon)[0].mean()) >= 25.0


def test_accuracy_rises_with_guidance_and_strength(editor):
    judge = EMOTION_BACKENDS.get("synthetic-judge").from_config({})
    people = identities("test", 4)
    x = render_batch(people, [Expression.prototype("neutral")] * 4, 128)
    targets = [[1, 2, 3, 4, 5, 6]] * 4
    truth = torch.tensor([t for ts in targets for t in ts])

    def accuracy(guidance: float, t0: int) -> float:
        out = editor.edit_many(x, [0] * 4, targets, guidance=guidance, t0=t0).images
        return float((judge.predict_proba(out).argmax(1) == truth).float().mean())

    weak, strong = accuracy(1.0, 300), accuracy(5.0, 700)
    assert strong > weak + 0.15, (weak, strong)
