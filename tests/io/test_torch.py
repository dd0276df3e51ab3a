"""PyTorch models read through ONNX export, checked against torch itself (torch==2.13.0, the test extra)."""

import io
import warnings

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


def _close(net, model, X, shape=None):
    expected = _forward(model, X, shape)
    # float32 in torch, float64 here: within 1e-6 of the output's scale
    assert np.abs(net(X) - expected).max() <= 1e-6 * max(1.0, np.abs(expected).max())


class Residual(nn.Module):
    """``c(act(b(h)) + h)``, ``h = relu(a(x))``: the skip connection that was once misread."""

    def __init__(self, act):
        super().__init__()
        self.a, self.b, self.c, self.act = nn.Linear(3, 6), nn.Linear(6, 6), nn.Linear(6, 2), act

    def forward(self, x):
        h = torch.relu(self.a(x))
        return self.c(self.act(self.b(h)) + h)


class Kinks(nn.Module):
    """Every kind of kink at once: LeakyReLU, PReLU, Hardtanh, ReLU6, elementwise max and min, abs."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 3)
        self.prelu = nn.PReLU(8)

    def forward(self, x):
        h = nn.functional.leaky_relu(self.a(x), 0.2)
        g = self.prelu(self.b(h))
        k = torch.maximum(g, h) - torch.minimum(g, -h)
        return self.c(nn.functional.hardtanh(k) + nn.functional.relu6(3 * h)) + torch.abs(x[:, :3])


def test_mlp_with_batchnorm_and_dropout_agrees_with_torch(rng):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3),
                          nn.Sequential(nn.Linear(8, 6), nn.ReLU()), nn.Linear(6, 2))
    with torch.no_grad():  # non-trivial running statistics
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
    model.train()  # read in eval mode whatever mode it is in, and left as it was
    net = sr.from_torch(model)
    assert model.training
    assert (net.n_inputs, net.hidden_sizes, net.n_outputs) == (3, (8, 6), 2)
    model.eval()
    _close(net, model, rng.uniform(-1, 1, size=(200, 3)))
    assert sr.enumerate_regions(net, sr.Box(-1, 1)).info["complete"]


@pytest.mark.parametrize("act", [nn.ReLU(), nn.LeakyReLU(0.1)])
def test_a_residual_module_is_read_exactly(act, rng):
    torch.manual_seed(1)
    model = Residual(act).eval()
    net = sr.from_torch(model)
    _close(net, model, rng.normal(size=(200, 3)))
    cat = sr.enumerate_regions(net, sr.Box(-1, 1))
    assert cat.info["complete"] and sr.check_equivalence(net, sr.build_shallow(cat), cat).passed


def test_every_kink_of_a_module_is_read_exactly(rng):
    torch.manual_seed(2)
    model = Kinks().eval()
    net = sr.from_torch(model, torch.zeros(1, 4))
    _close(net, model, rng.normal(size=(300, 4)))
    cat = sr.enumerate_regions(net, sr.Slice.plane(*rng.normal(size=(3, 4))))
    X = cat.hull.to_x(cat.table.interior)
    _close(net, model, X)  # at the centre of every region
    assert cat.info["complete"]


def test_a_cnn_with_maxpool_agrees_with_torch(rng):
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(3, 2, 2), nn.ReLU(), nn.Flatten(), nn.Linear(18, 4)).eval()
    with torch.no_grad():
        model[1].running_var.uniform_(0.5, 2.0)
    net = sr.from_torch(model, (1, 8, 8))
    assert net.n_inputs == 64
    _close(net, model, rng.uniform(0, 1, size=(100, 64)), (1, 8, 8))


@pytest.mark.parametrize("dynamo", [False, True])
def test_files_of_both_exporters_are_read(dynamo, tmp_path, rng):
    torch.manual_seed(4)
    model = Residual(nn.LeakyReLU(0.3)).eval()
    path = tmp_path / "m.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(model, (torch.zeros(1, 3),), dynamo=True, verbose=False).save(str(path))
        else:
            buffer = io.BytesIO()
            torch.onnx.export(model, (torch.zeros(1, 3),), buffer, dynamo=False)
            path.write_bytes(buffer.getvalue())
    _close(sr.load_network(path), model, rng.normal(size=(100, 3)))


def test_a_torch_export_program_is_read_and_a_pickle_refused(tmp_path, rng):
    torch.manual_seed(5)
    model = Residual(nn.ReLU()).eval()
    torch.export.save(torch.export.export(model, (torch.zeros(1, 3),)), str(tmp_path / "m.pt2"))
    _close(sr.load_network(tmp_path / "m.pt2"), model, rng.normal(size=(50, 3)))
    torch.save(model, str(tmp_path / "m.pt"))
    with pytest.raises(sr.NetworkFormatError, match="m.pt: a pickled PyTorch file: loading it runs the code"):
        sr.load_network(tmp_path / "m.pt")


class SoftmaxInForward(nn.Module):
    """A classifier whose head is applied in ``forward``: no module holds its logits."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(3, 6), nn.Linear(6, 4)

    def forward(self, x):
        return torch.softmax(self.b(torch.relu(self.a(x))), dim=1)


@pytest.mark.parametrize("head", [nn.Softmax(dim=1), nn.LogSoftmax(dim=1)])
def test_a_classifier_ending_in_softmax_is_read_up_to_its_logits(head, rng):
    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 4), head)
    net = sr.from_torch(model)
    assert "read up to the logits" in net.note and f"(the {type(head).__name__} head left out)" in net.note
    X = rng.normal(size=(100, 3))
    _close(net, model[:-1], X)  # the module without its head
    np.testing.assert_array_equal(net(X).argmax(axis=1), _forward(model, X).argmax(axis=1))


def test_a_head_applied_in_forward_is_read_up_to_the_logits_too(rng):
    torch.manual_seed(7)
    model = SoftmaxInForward()
    net = sr.from_torch(model)
    assert "(the Softmax head left out)" in net.note
    X = rng.normal(size=(100, 3))
    _close(net, lambda x: model.b(torch.relu(model.a(x))), X)
    np.testing.assert_array_equal(net(X).argmax(axis=1), _forward(model, X).argmax(axis=1))


def test_what_cannot_be_read_is_refused_by_name():
    with pytest.raises(sr.NetworkFormatError, match="op Sigmoid|op Tanh"):
        sr.from_torch(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)))
    with pytest.raises(sr.NetworkFormatError, match="give example_input"):
        sr.from_torch(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()))
    with pytest.raises(TypeError, match="from_torch needs a torch.nn.Module, got dict"):
        sr.from_torch({})
