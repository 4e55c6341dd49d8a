"""What a variant declares about its attention, for the code around it: the attention calls of one
forward pass (the cost model, vidgen.evaluation.cost, turns them into FLOPs and score entries) and
the kinds of attention map that span every space-time token (attention supervision and the probes
read those layers).
"""
from __future__ import annotations

from dataclasses import dataclass

CALL_KINDS = ("self", "cross", "prompt")  # see AttentionCall.kind
MAP_KINDS = ("cross", "self")  # see VideoDenoiser.attention_layers


@dataclass(frozen=True)
class AttentionCall:
    """`sequences` attention problems of `queries` x `keys` tokens at width `dim`, in one forward pass
    for one video (a layer that splits the tokens into sequences, as factorised attention does, is one
    call with several sequences)."""

    queries: int
    keys: int
    dim: int
    sequences: int = 1
    kind: str = "self"  # "self": tokens among themselves (video or latent); "cross": between the video's
    # tokens and latents (SnapVideo's read and write); "prompt": to the prompt tokens (their L keys are few,
    # so the cost model leaves these out of the largest attention matrix)

    def __post_init__(self):
        if self.kind not in CALL_KINDS:
            raise ValueError(f"unknown attention call kind {self.kind!r}; known: {', '.join(CALL_KINDS)}")
