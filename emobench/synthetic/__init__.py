"""Procedural synthetic faces with known identity and all eight expressions (no external assets).

Example:
    >>> from emobench.synthetic import identities, Expression, render_batch
    >>> render_batch(identities("test", 1), [Expression.prototype("surprise")], 32).shape
    torch.Size([1, 3, 32, 32])
"""

from emobench.synthetic.faces import SPLITS, Expression, Identity, identities, render, render_batch, split_seed

__all__ = ["SPLITS", "Expression", "Identity", "identities", "render", "render_batch", "split_seed"]
