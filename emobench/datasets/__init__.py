"""Datasets by registered name; plugins join through the ``emobench.datasets`` entry-point group.

Example:
    >>> from emobench.datasets import DATASETS
    >>> "folder" in DATASETS
    True
"""

from emobench.registry import Registry

DATASETS = Registry(
    "dataset",
    {
        "synthetic": "emobench.synthetic.dataset:SyntheticDataset",
        "folder": "emobench.datasets.folder:FolderDataset",
        "affectnet": "emobench.datasets.affectnet:AffectNetDataset",
        "london": "emobench.datasets.london:LondonDataset",
    },
    entry_point_group="emobench.datasets",
)
