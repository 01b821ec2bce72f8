"""CLIP-guided finetuning (CGF) of the LDM editor: latent precomputation, losses, trainer, ``ldm-cgf``.

The paper finetunes the U-Net once per target emotion so that a 6-step DDIM from inverted
latents lands on images whose CLIP embedding moved in the direction "source face → target
face", while an identity network and an L2 term to the first-stage reconstruction hold the
person and the photo in place (DESIGN §4, CGF).
"""
