"""Scoring candidate continuations over a token trie (the pure part; llama.cpp's in test_llamacpp)."""

import math

from agentmem.llm.scoring import common_prefix_len, sequence_logprobs


def _model(table: dict[tuple[int, ...], dict[int, float]], asked: list[tuple[int, ...]]):
    def next_logprobs(tokens: list[int]) -> dict[int, float]:
        asked.append(tuple(tokens))
        return table[tuple(tokens)]

    return next_logprobs


def test_each_sequence_gets_its_tokens_log_probabilities_after_the_shared_prefix():
    # prompt (7, 8), then "1" / "1}" / "17": digits as separate tokens, as Qwen writes them
    lp = math.log
    table = {
        (7, 8): {1: lp(0.6), 2: lp(0.4)},
        (7, 8, 1): {9: lp(0.2), 7: lp(0.8)},  # after "1": "}" (9) or "7"
    }
    asked: list[tuple[int, ...]] = []
    scores = sequence_logprobs([[7, 8, 1, 9], [7, 8, 1, 7], [7, 8, 2]], _model(table, asked))
    assert [round(math.exp(s), 6) for s in scores] == [0.12, 0.48, 0.4]
    assert asked == [(7, 8), (7, 8, 1)]  # each prefix once, depth first; no call for a leaf


def test_shared_tokens_are_left_out_and_a_single_candidate_scores_zero():
    assert common_prefix_len([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
    assert common_prefix_len([]) == 0
    asked: list[tuple[int, ...]] = []
    assert sequence_logprobs([[5, 6]], _model({}, asked)) == [0.0] and asked == []
    assert sequence_logprobs([], _model({}, asked)) == []
