"""``stargan-v2``: StarGAN v2 (Choi et al., CVPR 2020) with its official ``{step}_nets_ema.ckpt``.

| module | what |
|---|---|
| :mod:`~emobench.editors.stargan_v2.networks` | generator, mapping network, style encoder (official parameter names) |
| :mod:`~emobench.editors.stargan_v2.wing` | the FAN landmark network of the high-pass path |
| :mod:`~emobench.editors.stargan_v2.checkpoint` | configuration from keys and shapes, strict loading, random checkpoints |
| :mod:`~emobench.editors.stargan_v2.editor` | the editor (latent- and reference-guided styles) |
"""

from emobench.editors.stargan_v2.checkpoint import (StarGANv2Config, StarGANv2Nets, infer_config, load_checkpoint,
                                                    make_random_checkpoint)
from emobench.editors.stargan_v2.editor import StarGANv2Editor, StarGANv2Init, StarGANv2Params
from emobench.editors.stargan_v2.networks import Generator, MappingNetwork, StyleEncoder
from emobench.editors.stargan_v2.wing import FAN

__all__ = ["FAN", "Generator", "MappingNetwork", "StyleEncoder", "StarGANv2Config", "StarGANv2Editor",
           "StarGANv2Init", "StarGANv2Nets", "StarGANv2Params", "infer_config", "load_checkpoint",
           "make_random_checkpoint"]
