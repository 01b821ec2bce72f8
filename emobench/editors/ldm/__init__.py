"""The paper's latent diffusion editor: VQGAN f=4 first stage, class-conditional U-Net with CFG, DDIM editing."""
