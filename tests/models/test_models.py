"""Every topology: the (output, loss) contract, shapes, gradients, and forward vs step."""

import pytest
import torch
from model_cases import CASES, LENGTHS, N, S, T, V, logits_of, start_inputs, tokens

from rnnkit.layers import detach_state
from rnnkit.models import LanguageModel, RecurrentOutput, Seq2SeqOutput


@pytest.mark.parametrize("name", CASES)
def test_output_and_loss_contract(name):
    build, batch, shape = CASES[name]
    torch.manual_seed(0)
    model, batch = build(), batch()
    output, loss = model(**batch)
    assert logits_of(output).shape == shape
    assert loss.dim() == 0 and torch.isfinite(loss)
    batch.pop("targets")
    output, loss = model(**batch)
    assert loss is None
    if name.startswith(("seq2seq", "generator")):  # no targets: max_length steps, greedily
        assert logits_of(output).shape == (N, model.max_length, V)
    else:
        assert logits_of(output).shape == shape


@pytest.mark.parametrize("name", CASES)
def test_gradient_reaches_every_parameter(name):
    build, batch, _ = CASES[name]
    torch.manual_seed(0)
    model = build()
    _, loss = model(**batch())
    loss.backward()
    for param_name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, param_name


def test_output_types():
    torch.manual_seed(0)
    for name, kind in (("language_model", RecurrentOutput), ("seq2seq_additive", Seq2SeqOutput)):
        build, batch, _ = CASES[name]
        output, _ = build()(**batch())
        assert isinstance(output, kind)


def test_seq2seq_attention_ignores_padding():
    build, batch, _ = CASES["seq2seq_additive"]
    torch.manual_seed(0)
    output, _ = build()(**batch())
    weights = output.attention  # (N, T, S)
    assert weights.shape == (N, T, S)
    for n, length in enumerate(LENGTHS.tolist()):
        assert torch.all(weights[n, :, length:] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(N, T))


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_language_model_carries_state_across_chunks(kind):
    """Two chunks with the state handed over equal one pass over the whole sequence."""
    torch.manual_seed(0)
    model = LanguageModel(V, embedding_dim=8, kind=kind, num_layers=2).double()
    x = tokens(N, T)
    whole, _ = model(x)
    first, _ = model(x[:, :4])
    second, _ = model(x[:, 4:], state=detach_state(first.state))
    torch.testing.assert_close(torch.cat([first.logits, second.logits], 1), whole.logits)


def test_language_model_weight_tying():
    same = LanguageModel(V, embedding_dim=8, tie_weights=True)
    assert same.decoder.out.weight is same.decoder.inputs.embed.weight
    assert isinstance(same.decoder.project, torch.nn.Identity)
    projected = LanguageModel(V, embedding_dim=8, hidden_size=16, tie_weights=True)
    assert projected.decoder.project.weight.shape == (8, 16)  # H -> E before the tied layer
    untied = LanguageModel(V, embedding_dim=8, hidden_size=16)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(projected) < count(untied)


@pytest.mark.parametrize("name", ["language_model", "generator", "seq2seq_additive"])
def test_step_by_step_equals_teacher_forced_forward(name):
    """Decoding drives `step`; training drives `forward`: they must compute the same."""
    build, batch, _ = CASES[name]
    torch.manual_seed(0)
    model = build().double().eval()
    batch = {k: v.double() if v.is_floating_point() else v for k, v in batch().items()}
    targets = batch["targets"].clamp(min=0)
    if name == "language_model":  # the LM's inputs are the tokens fed at each step
        batch["inputs"] = torch.cat([batch["inputs"][:, :1], targets[:, :-1]], dim=1)
    output, _ = model(**batch)
    token, state = model.start(**start_inputs(name, batch))
    for t in range(T):
        logits, state = model.step(token, state)
        torch.testing.assert_close(logits, logits_of(output)[:, t])
        token = targets[:, t]


def fed_tokens(model, batch):
    """(N, T) the ids the decoder's embedding read in one forward pass, and the logits."""
    fed = []
    hook = model.decoder.embedding.register_forward_hook(lambda m, args, out: fed.append(args[0]))
    try:
        output, loss = model(**batch)
    finally:
        hook.remove()
    assert torch.isfinite(loss)
    return torch.cat(fed, dim=1), logits_of(output)


@pytest.mark.parametrize("name", ["generator", "seq2seq_additive", "seq2seq_plain"])
def test_teacher_forcing_ratio_below_one_feeds_own_guesses(name):
    build, batch, _ = CASES[name]
    torch.manual_seed(0)
    model, batch = build(), batch()
    model.train()
    targets = batch["targets"].clamp(min=0)  # -100 padding is fed as id 0
    bos = torch.full((N, 1), model.bos)
    forced = torch.cat([bos, targets[:, :-1]], dim=1)  # (N, T) the true previous tokens
    model.teacher_forcing = 1.0
    fed, _ = fed_tokens(model, batch)
    assert torch.equal(fed, forced)
    model.teacher_forcing = 0.0  # every input after bos is the model's own argmax
    fed, logits = fed_tokens(model, batch)
    guesses = torch.cat([bos, logits[:, :-1].argmax(-1)], dim=1)
    assert torch.equal(fed, guesses)
    assert not torch.equal(guesses, forced)  # the two ways are told apart
    model.teacher_forcing = 0.5  # each step either, and both happen
    fed, logits = fed_tokens(model, batch)
    guesses = torch.cat([bos, logits[:, :-1].argmax(-1)], dim=1)
    assert torch.all((fed == forced) | (fed == guesses))
    differ = forced != guesses
    assert (fed == forced)[differ].any() and (fed == guesses)[differ].any()
    model.eval()  # evaluation with targets always teacher-forces
    fed, logits = fed_tokens(model, batch)
    assert torch.equal(fed, forced)
    model.teacher_forcing = 1.0
    torch.testing.assert_close(logits, logits_of(model(**batch)[0]))


@pytest.mark.parametrize("training", [True, False])
def test_evaluating_restores_the_mode_even_after_an_error(training):
    from rnnkit.models.common import evaluating

    model = torch.nn.Sequential(torch.nn.Dropout(0.5)).train(training)
    with evaluating(model):
        assert not model.training and not model[0].training
    assert model.training is training
    with pytest.raises(RuntimeError), evaluating(model):
        raise RuntimeError("inside")
    assert model.training is training and model[0].training is training
