"""PyTorch nn.Sequential models read without importing torch in the package (torch==2.13.0, the test extra)."""

import numpy as np
import pytest
import torch
from torch import nn

import shallowrelu as sr


def test_torch_is_the_pinned_version():
    assert torch.__version__.split("+")[0] == "2.13.0"


def _forward(model, X, shape=None):
    with torch.no_grad():
        T = torch.tensor(X, dtype=torch.float32)
        return model(T if shape is None else T.reshape(-1, *shape)).numpy().astype(np.float64)


def test_mlp_with_batchnorm_and_dropout_agrees_with_torch(rng):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3),
                          nn.Sequential(nn.Linear(8, 6), nn.ReLU()), nn.Linear(6, 2))
    with torch.no_grad():  # non-trivial running statistics
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
    model.eval()
    net = sr.from_torch(model)
    assert (net.n_inputs, net.hidden_sizes, net.n_outputs) == (3, (8, 6), 2)
    X = rng.uniform(-1, 1, size=(200, 3))
    np.testing.assert_allclose(net(X), _forward(model, X), atol=1e-5)
    # and the network enumerates like any other
    assert sr.enumerate_regions(net, sr.Box(-1, 1)).info["complete"]


def test_conv_net_agrees_with_torch(rng):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(48, 4),
                          nn.ReLU(), nn.Linear(4, 2)).eval()
    net = sr.from_torch(model, input_shape=(1, 8, 8))
    assert net.n_inputs == 64 and net.hidden_sizes == (48, 4)
    X = rng.uniform(-1, 1, size=(50, 64))
    np.testing.assert_allclose(net(X), _forward(model, X, (1, 8, 8)), atol=1e-5)


def test_unsupported_module_is_named():
    with pytest.raises(sr.NetworkFormatError, match="torch module 1 \\(Sigmoid\\) is not supported"):
        sr.from_torch(nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1)))
    with pytest.raises(sr.NetworkFormatError, match="give input_shape"):
        sr.from_torch(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()))
    with pytest.raises(sr.NetworkFormatError, match="takes 5 inputs but gets 3"):
        sr.from_torch(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(5, 1)))
