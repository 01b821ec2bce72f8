"""Evaluators and the emotion/identity backends they use, by registered name.

Example:
    >>> from emobench.evaluators import EVALUATORS
    >>> "quality" in EVALUATORS
    True
"""

from emobench.registry import Registry

EVALUATORS = Registry(
    "evaluator",
    {
        "quality": "emobench.evaluators.quality:QualityEvaluator",
        "paired": "emobench.evaluators.paired:PairedEvaluator",
        "emotion": "emobench.evaluators.emotion:EmotionEvaluator",
        "identity": "emobench.evaluators.identity:IdentityEvaluator",
    },
    entry_point_group="emobench.evaluators",
)

# Emotion classifiers behind the ``emotion`` evaluator (see emotion_base.EmotionClassifier).
EMOTION_BACKENDS = Registry(
    "emotion backend",
    {
        "hsemotion": "emobench.evaluators.hsemotion:HSEmotionClassifier",
        "fer-minixception": "emobench.evaluators.fer:FERMiniXception",
        "synthetic-judge": "emobench.synthetic.judge:SyntheticJudge",
    },
    entry_point_group="emobench.emotion_backends",
)

# Identity networks run in torch rather than onnxruntime, behind the ``identity`` evaluator's backends
# of the same name: each target has ``default_weights``, ``load(path, device)`` and ``embed(net, images)``.
IDENTITY_NETS = Registry(
    "identity network",
    {"synthetic-id": "emobench.synthetic.identity_net:SyntheticIdentityBackend"},
    entry_point_group="emobench.identity_nets",
)
