"""The models and decoders on a GPU, in float32 and under bf16 autocast (skipped without one)."""

import pytest
import torch
from model_cases import CASES, start_inputs

from rnnkit.models.decoding import beam_search, greedy, sample

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")


def on_gpu(batch, keep_lengths_on_cpu=False):
    return {
        k: v if (k == "lengths" and keep_lengths_on_cpu) else v.to(CUDA) for k, v in batch.items()
    }


@pytest.mark.parametrize("autocast", [False, True])
@pytest.mark.parametrize("name", CASES)
def test_forward_backward_on_gpu(name, autocast):
    build, batch, _ = CASES[name]
    torch.manual_seed(0)
    model = build().to(CUDA)
    with torch.autocast("cuda", torch.bfloat16, enabled=autocast):
        _, loss = model(**on_gpu(batch(), keep_lengths_on_cpu=autocast))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", ["language_model", "generator", "seq2seq_additive"])
def test_decoding_on_gpu_matches_cpu(name):
    build, batch, _ = CASES[name]
    torch.manual_seed(0)
    model, batch = build().eval(), batch()
    results = []
    for device in ("cpu", "cuda"):
        model.to(device)
        inputs = {k: v.to(device) for k, v in start_inputs(name, batch).items()}
        tokens, state = model.start(**inputs)
        best = greedy(model, tokens, state, 6, eos=1)
        beams = beam_search(model, tokens, state, 6, eos=1, beam_size=3, length_alpha=0.6)
        generator = torch.Generator(device).manual_seed(0)
        drawn = sample(model, tokens, state, 6, eos=1, top_k=4, top_p=0.9, generator=generator)
        assert drawn.tokens.device.type == device
        results.append((best.tokens.cpu(), beams.tokens.cpu(), beams.scores.cpu()))
    (cpu_best, cpu_beams, cpu_scores), (gpu_best, gpu_beams, gpu_scores) = results
    assert torch.equal(cpu_best, gpu_best) and torch.equal(cpu_beams, gpu_beams)
    torch.testing.assert_close(cpu_scores, gpu_scores, rtol=1e-4, atol=1e-4)
