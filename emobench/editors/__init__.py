"""Editors: registered by name; third-party editors join through the ``emobench.editors`` entry-point group.

Example:
    >>> from emobench.editors import EDITORS
    >>> "identity" in EDITORS
    True
"""

from emobench.registry import Registry

EDITORS = Registry(
    "editor",
    {
        "identity": "emobench.editors.identity:IdentityEditor",
        "precomputed": "emobench.editors.precomputed:PrecomputedEditor",
        "groundtruth": "emobench.editors.groundtruth:GroundTruthEditor",
        "ldm": "emobench.editors.ldm.editor:LDMEditor",
        "ldm-cgf": "emobench.editors.ldm.cgf_editor:CGFEditor",
        "ganmut": "emobench.editors.ganmut:GANmutEditor",
        "stargan-v2": "emobench.editors.stargan_v2.editor:StarGANv2Editor",
        "ganimation": "emobench.editors.ganimation:GANimationEditor",
    },
    entry_point_group="emobench.editors",
)
