"""Clipping by global norm and by value, against torch.nn.utils."""

import math

import numpy as np
import pytest
import torch

from rnnkit.reference import clip_grad_norm, clip_grad_value


def gradients(seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"weight_ih_l0": (12, 4), "weight_hh_l0": (12, 3), "bias_ih_l0": (12,)}
    return {name: rng.standard_normal(shape) for name, shape in shapes.items()}


def as_torch_params(grads):
    params = []
    for grad in grads.values():
        param = torch.nn.Parameter(torch.zeros(grad.shape, dtype=torch.float64))
        param.grad = torch.tensor(grad)
        params.append(param)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e3])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    grads = gradients()
    params = as_torch_params(grads)
    expected_norm = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    clipped, total_norm = clip_grad_norm(grads, max_norm, norm_type=norm_type)
    assert total_norm == pytest.approx(expected_norm.item(), rel=1e-12)
    for (name, ours), param in zip(clipped.items(), params, strict=True):
        np.testing.assert_allclose(ours, param.grad.numpy(), rtol=1e-12, err_msg=name)


def test_clip_grad_norm_leaves_small_gradients_alone_and_inputs_untouched():
    grads = gradients()
    before = {name: grad.copy() for name, grad in grads.items()}
    norm = math.sqrt(sum(float(np.sum(g**2)) for g in grads.values()))
    clipped, total_norm = clip_grad_norm(grads, max_norm=norm * 1.01)
    assert total_norm == pytest.approx(norm, rel=1e-12)
    for name, grad in grads.items():
        np.testing.assert_array_equal(clipped[name], grad)
        assert clipped[name] is not grad
    clipped, _ = clip_grad_norm(grads, max_norm=norm / 10)
    assert math.sqrt(sum(float(np.sum(g**2)) for g in clipped.values())) == pytest.approx(
        norm / 10, rel=1e-6
    )
    for name, grad in grads.items():
        np.testing.assert_array_equal(grad, before[name])


@pytest.mark.parametrize("clip_value", [0.1, 1.0, 10.0])
def test_clip_grad_value_matches_torch(clip_value):
    grads = gradients()
    before = {name: grad.copy() for name, grad in grads.items()}
    params = as_torch_params(grads)
    torch.nn.utils.clip_grad_value_(params, clip_value)
    clipped = clip_grad_value(grads, clip_value)
    for (name, ours), param in zip(clipped.items(), params, strict=True):
        np.testing.assert_array_equal(ours, param.grad.numpy(), err_msg=name)
        np.testing.assert_array_equal(grads[name], before[name])


def test_empty_and_invalid():
    assert clip_grad_norm({}, 1.0) == ({}, 0.0)
    with pytest.raises(ValueError, match="max_norm must be a positive number, got 0"):
        clip_grad_norm(gradients(), 0)
    with pytest.raises(ValueError, match="clip_value must be a positive number, got -1.0"):
        clip_grad_value(gradients(), -1.0)
