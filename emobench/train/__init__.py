"""Every trainer in one place, all behind ``emobench train``.

| module | trains |
|---|---|
| :mod:`emobench.train.ldm` | the VQGAN first stage and the class-conditional LDM (``train vqgan|ldm|export``) |
| :mod:`emobench.train.cgf_latents`, :mod:`emobench.train.cgf` | CLIP-guided finetuning: inverted latents, the per-target U-Net tuning (``train cgf``) |
| :mod:`emobench.train.data` | the training images (synthetic faces or any registered dataset) |
"""
