"""Attention: padding gets no weight, weights are a distribution, context mixes the memory."""

import pytest
import torch

from rnnkit.models import Attention, length_mask

N, T, S, Q, M = 3, 4, 6, 5, 8


@pytest.mark.parametrize("kind", ["additive", "dot"])
def test_masked_steps_get_zero_weight_and_rows_sum_to_one(kind):
    torch.manual_seed(0)
    attention = Attention(kind, Q, M)
    query, memory = torch.randn(N, T, Q), torch.randn(N, S, M)
    lengths = torch.tensor([6, 1, 3])
    mask = length_mask(lengths, S)
    context, weights = attention(query, memory, attention.keys(memory), mask)
    assert context.shape == (N, T, M) and weights.shape == (N, T, S)
    for n, length in enumerate(lengths.tolist()):
        assert torch.all(weights[n, :, length:] == 0)
        assert torch.all(weights[n, :, :length] > 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(N, T))
    torch.testing.assert_close(context[1], memory[1, :1].expand(T, M))  # one step: all on it
    torch.testing.assert_close(context, weights @ memory)


def test_padding_values_do_not_reach_the_context():
    torch.manual_seed(0)
    attention = Attention("additive", Q, M)
    query, memory = torch.randn(N, T, Q), torch.randn(N, S, M)
    mask = length_mask(torch.tensor([2, 4, 6]), S)
    noisy = memory.masked_fill(~mask.unsqueeze(-1), 1e4)
    clean, _ = attention(query, memory, attention.keys(memory), mask)
    dirty, _ = attention(query, noisy, attention.keys(noisy), mask)
    torch.testing.assert_close(clean, dirty)


def test_dot_attention_is_a_scaled_free_dot_product_with_projected_memory():
    torch.manual_seed(0)
    attention = Attention("dot", Q, M)
    query, memory = torch.randn(1, 1, Q), torch.randn(1, S, M)
    _, weights = attention(query, memory, attention.keys(memory), torch.ones(1, S, dtype=bool))
    scores = (attention.memory_proj(memory[0]) @ query[0, 0]).softmax(0)
    torch.testing.assert_close(weights[0, 0], scores)
