"""Regenerate fer_tflite_reference.json: the quantised reference .tflite run on the shared London faces.

Command (from the repository root):
    /work/venv/bin/python tests/evaluators/data/make_fer_reference.py ../shared
Needs ``ai-edge-litert`` (pip install ai-edge-litert). The inputs are the 64×64 grey tensors
from ``emobench.evaluators.fer.fer_preprocess``, so the test compares networks, not resizers.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from emobench.evaluators.fer import fer_preprocess
from emobench.imageio import load_image


def tflite_probs(tflite: Path, x: torch.Tensor) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(tflite))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    rows = []
    for xi in x:
        it.set_tensor(inp, xi.permute(1, 2, 0)[None].numpy().astype(np.float32))
        it.invoke()
        rows.append(it.get_tensor(out)[0])
    return np.array(rows)


def main(shared: Path) -> None:
    files = sorted((shared / "data" / "london_256").glob("*/*.jpg"))
    x = fer_preprocess(torch.stack([load_image(f) for f in files]))
    probs = tflite_probs(shared / "weights" / "emotion" / "fer_emotion_model_quantized.tflite", x)
    out = {"command": "python tests/evaluators/data/make_fer_reference.py ../shared",
           "model": "fer_emotion_model_quantized.tflite (sha256 65e3961b...)",
           "order": "anger, disgust, fear, happy, sad, surprise, neutral",
           "probs": {f"{f.parent.name}/{f.name}": [round(float(v), 5) for v in p] for f, p in zip(files, probs)}}
    Path(__file__).with_name("fer_tflite_reference.json").write_text(json.dumps(out, indent=0) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
