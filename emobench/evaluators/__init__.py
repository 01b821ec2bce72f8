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
