"""Is the prompt a modelling task the catalog can serve? ``needs_info``, ``unsupported`` or go.

A prompt that asks no modelling task ("hello", "my loss keeps rising, what should I change?")
ends in ``needs_info`` with the questions to answer; a task the catalog cannot serve (text/NLP,
pretrained fine-tuning, reinforcement learning, generation, detection, very large images) in
``unsupported`` with the reason. Both are ``InvalidInputError`` (exit 2) whose ``--json`` object
carries ``status`` and ``questions`` or ``reason``. ``--assume`` proceeds instead: the
assumptions the design then rests on are returned for the blueprint's uncertainties.

The reading confidence follows the ml-architect seed's rule: below 0.6 the architect escalates
(asks) instead of designing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mlflowctl.errors import InvalidInputError

#: the seed's rule: below this reading confidence the architect asks instead of designing
ESCALATE_BELOW = 0.6
#: largest image side the catalog's CNN is sized for
MAX_IMAGE_SIDE = 512

#: (what, pattern, reason, assumption under --assume)
UNSUPPORTED: tuple[tuple[str, str, str, str], ...] = (
    (
        "pretrained",
        r"pre-?trained|fine-?tun\w*|\bbert\b|\bgpt-?\d*\b|\bllama\b|\bvit\b|hugging ?face|"
        r"\bt5\b|roberta|transfer learning",
        "the catalog trains its families from scratch; it has no pretrained weights to fine-tune",
        "trained from scratch: no pretrained weights",
    ),
    (
        "text",
        r"\bnlp\b|natural language|sentiment|\btweets?\b|text classification|\btexts?\b|"
        r"translat\w+|summari[sz]\w*|chat ?bot|question answering|named entit|\bllm\b|"
        r"language model|tokeni[sz]\w*|\bemails?\b|\breviews\b",
        "the catalog has no text family: no tokenizer, vocabulary or text encoder",
        "text read as a numeric sequence; no tokenizer is rendered",
    ),
    (
        "reinforcement",
        r"reinforcement learning|\brl\b|q-?learning|policy gradient|\bppo\b|\bdqn\b|"
        r"reward (function|signal)|gym environment|play (chess|go|atari|games?)",
        "reinforcement learning is not in the catalog: it designs supervised models only",
        "treated as supervised learning on logged data",
    ),
    (
        "generative",
        r"\bgenerat(e|es|ing|ive)\s+(new\s+)?(images?|pictures?|text|music|audio|faces?)|\bgans?\b|"
        r"diffusion model|object detection|bounding box|text-to-|"
        # segmentation of images, not a customer segment
        r"(image|semantic|instance|medical|pixel)[- ]segmentation|segmentation (masks?|models?|"
        r"maps?)|\bsegment (the |each |an? )?(images?|pixels|objects|organs|cells|tumou?rs)\b",
        "the catalog designs classifiers, regressors and forecasters, not generative, "
        "detection or segmentation models",
        "treated as classification of the whole input",
    ),
)

UNSUPPORTED += (
    (
        "unsupervised",
        r"\bclust(er|ers|ering)\b|\bgroup (our|the|my) \w+ into\b|\binto (\w+ )?segments\b|"
        r"unsupervised|\bunlabell?ed\b|"
        r"\b(no|without|there are no|there is no|don'?t have|we lack) (any )?labels?\b",
        "the catalog trains supervised models from labelled data: it has no clustering or "
        "unsupervised anomaly detection",
        "treated as supervised learning: the data must hold a target column",
    ),
)

_DEBUG = (
    r"\b(my|our)\b[^?]{0,60}\b(loss|accuracy|model|training|gradients?|validation|val|"
    r"overfit\w*|network|weights|curve)\b"
)
_ASKING = (
    r"\?|\bwhat should\b|\bhow (do|can|should) (i|we)\b|\bwhy (is|does|do)\b|isn'?t converging|"
    r"not converging|keeps? (rising|going up|increasing|dropping|exploding)|\bnan\b|\bhelp\b"
)
_DESIGN_ASK = r"\b(design|build|create|make|train|develop|set up|give me|propose)\b"


@dataclass
class Reading:
    """What triage concluded: a status, its questions or reason, and the confidence."""

    status: str = "ok"  # ok | needs_info | unsupported
    confidence: float = 0.9
    questions: list[str] = field(default_factory=list)
    reason: str | None = None
    assumptions: list[str] = field(default_factory=list)


class NeedsInfoError(InvalidInputError):
    """The prompt asks no modelling task: the questions to answer instead of a blueprint."""

    kind = "needs_info"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["status"] = "needs_info"
        out["questions"] = list(self.details.get("questions", []))
        return out


class UnsupportedTaskError(InvalidInputError):
    """The task is one the catalog cannot serve: the reason instead of a blueprint."""

    kind = "unsupported"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["status"] = "unsupported"
        out["reason"] = self.details.get("reason", self.message)
        return out


def read(
    prompt: str, *, recognised: bool, has_data: bool, image_side: int | None = None
) -> Reading:
    """Triage ``prompt``. ``recognised``: the reader found a task, modality, architecture,
    budget or infrastructure ask in it; ``has_data``: data was given (it decides the task)."""
    low = " ".join(prompt.lower().split())
    r = Reading()
    if re.search(_DEBUG, low) and re.search(_ASKING, low) and not re.search(_DESIGN_ASK, low):
        r.status, r.confidence = "needs_info", 0.3
        r.questions = [
            "mlflowctl designs and trains new models; it does not debug an existing training "
            "run. Do you want a new model designed? If so, what should it predict?",
            "What data should it learn from (--data sklearn:iris, statsmodels:co2 or a file)?",
        ]
        r.assumptions.append(
            "assumed: the prompt asks for a new model of the kind its words suggest"
        )
        return r
    for what, pattern, reason, assumption in UNSUPPORTED:
        if what == "text" and has_data:
            continue  # the data decides the modality, and no loader reads text
        if re.search(pattern, low):
            r.status, r.confidence, r.reason = "unsupported", 0.3, reason
            r.assumptions.append(f"assumed ({reason}): {assumption}")
            return r
    if not recognised and not has_data:
        r.status, r.confidence = "needs_info", 0.2
        r.questions = [
            "What should the model predict: a class, a number, or the next values of a series?",
            "What data should it learn from (--data sklearn:iris, statsmodels:co2 or a file)?",
            "Any constraints: a parameter budget, a latency, a metric to reach?",
        ]
        r.assumptions.append("assumed: no modelling task was stated; designed the default task")
        return r
    if image_side is not None and image_side > MAX_IMAGE_SIDE:
        r.status, r.confidence = "unsupported", 0.3
        r.reason = (
            f"images of {image_side} px per side are larger than the catalog's CNN is sized "
            f"for ({MAX_IMAGE_SIDE} px)"
        )
        r.assumptions.append(f"assumed ({r.reason}): the images are resized down")
    return r


def enforce(reading: Reading) -> None:
    """Raise the ``needs_info`` / ``unsupported`` error of a reading below the seed's bar."""
    if reading.status == "ok" or reading.confidence >= ESCALATE_BELOW:
        return
    if reading.status == "needs_info":
        raise NeedsInfoError(
            "the prompt states no modelling task: " + reading.questions[0],
            hint="answer in the prompt (what to predict, from which data), or pass --assume "
            "to design with stated assumptions",
            location="PROMPT",
            details={"status": "needs_info", "questions": reading.questions},
        )
    raise UnsupportedTaskError(
        f"unsupported task: {reading.reason}",
        hint="restate it as classification, regression or forecasting on tables, small "
        "images or series, or pass --assume to design with stated assumptions",
        location="PROMPT",
        details={"status": "unsupported", "reason": reading.reason},
    )
