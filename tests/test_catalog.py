"""The catalog's parameter formulas against PyTorch modules built from the ``*Params`` docstrings.

The modules below are written here, straight from the architecture text in ``blueprint.py``, not
imported from the templates: if the formula, the docstring or the templates drift apart, one of
this file's tests or the template tests fails.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from mlflowctl.families import (  # noqa: E402
    IO,
    count_params,
    flops_per_sample,
    layer_table,
    size_for_budget,
    template_kind,
)
from mlflowctl.families.cnn import CNNParams  # noqa: E402
from mlflowctl.families.mlp import MLPParams  # noqa: E402
from mlflowctl.families.rnn import RNNParams  # noqa: E402
from mlflowctl.families.tcn import TCNParams  # noqa: E402
from mlflowctl.families.transformer import TransformerParams  # noqa: E402

pytestmark = pytest.mark.unit


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# --------------------------------------------------------------------------- docstring modules


def build_mlp(p: MLPParams, n_in: int, out: int) -> nn.Module:
    layers: list[nn.Module] = []
    prev = n_in
    for h in p.hidden:
        layers.append(nn.Linear(prev, h))
        if p.norm == "batchnorm":
            layers.append(nn.BatchNorm1d(h))
        elif p.norm == "layernorm":
            layers.append(nn.LayerNorm(h))
        layers += [nn.GELU(), nn.Dropout(p.dropout)]
        prev = h
    layers.append(nn.Linear(prev, out))
    return nn.Sequential(nn.Flatten(), *layers)


class Block(nn.Module):
    def __init__(self, cin: int, c: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.short: nn.Module = nn.Identity()
        if stride != 1 or cin != c:
            self.short = nn.Sequential(nn.Conv2d(cin, c, 1, stride, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.short(x))


def build_cnn(p: CNNParams, c_in: int, out: int) -> nn.Module:
    mods: list[nn.Module] = [
        nn.Conv2d(c_in, p.channels[0], 3, padding=1, bias=False),
        nn.BatchNorm2d(p.channels[0]),
        nn.ReLU(),
    ]
    cin = p.channels[0]
    for s, c in enumerate(p.channels):
        for b in range(p.blocks_per_stage):
            mods.append(Block(cin, c, 2 if (s > 0 and b == 0) else 1))
            cin = c
    mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(p.dropout), nn.Linear(cin, out)]
    return nn.Sequential(*mods)


def build_rnn(p: RNNParams, n_in: int, out: int) -> nn.Module:
    cls = nn.LSTM if p.family == "lstm" else nn.GRU
    rnn = cls(n_in, p.hidden, p.layers, batch_first=True, dropout=p.dropout if p.layers > 1 else 0)
    return nn.ModuleDict({"rnn": rnn, "head": nn.Linear(p.hidden, out)})


class TCN(nn.Module):
    def __init__(self, p: TCNParams, n_in: int, out: int) -> None:
        super().__init__()
        self.k = p.kernel_size
        self.convs = nn.ModuleList()
        self.shorts = nn.ModuleList()
        cin = n_in
        for i, c in enumerate(p.channels):
            d = 2**i
            self.convs.append(
                nn.ModuleList(
                    [nn.Conv1d(cin, c, self.k, dilation=d), nn.Conv1d(c, c, self.k, dilation=d)]
                )
            )
            self.shorts.append(nn.Conv1d(cin, c, 1) if cin != c else nn.Identity())
            cin = c
        self.head = nn.Linear(cin, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, steps, features)
        h = x.transpose(1, 2)
        for i, (convs, short) in enumerate(zip(self.convs, self.shorts, strict=True)):
            pad = (self.k - 1) * 2**i
            y = h
            for conv in convs:
                y = torch.relu(conv(nn.functional.pad(y, (pad, 0))))
            h = y + short(h)
        return self.head(h[:, :, -1])


class Transformer(nn.Module):
    def __init__(self, p: TransformerParams, n_in: int, out: int) -> None:
        super().__init__()
        self.proj = nn.Linear(n_in, p.d_model)
        self.pos = nn.Parameter(torch.zeros(p.max_len + p.memory_tokens, p.d_model))
        self.memory = (
            nn.Parameter(torch.zeros(p.memory_tokens, p.d_model)) if p.memory_tokens else None
        )
        layer = nn.TransformerEncoderLayer(
            p.d_model, p.heads, p.ff_dim, p.dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, p.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(p.d_model)
        self.head = nn.Linear(p.d_model, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.proj(x)
        if self.memory is not None:
            h = torch.cat([self.memory.expand(x.shape[0], -1, -1), h], dim=1)
        h = h + self.pos[: h.shape[1]]
        return self.head(self.norm(self.encoder(h))[:, -1])


# --------------------------------------------------------------------------- exact counts

MLP_CASES = [
    (MLPParams(hidden=[8]), (4,), 1),
    (MLPParams(hidden=[64, 32], norm="batchnorm"), (30,), 2),
    (MLPParams(hidden=[256, 128, 64], norm="layernorm"), (13,), 3),
    (MLPParams(hidden=[32, 16]), (1, 8, 8), 10),
    (MLPParams(hidden=[100, 50]), (20, 3), 12),
]
CNN_CASES = [
    (CNNParams(channels=[8]), (1, 8, 8), 10),
    (CNNParams(channels=[24, 48]), (1, 8, 8), 10),
    (CNNParams(channels=[16, 32, 64], blocks_per_stage=2), (3, 32, 32), 100),
    (CNNParams(channels=[5, 7]), (3, 9, 11), 4),
]
RNN_CASES = [
    (RNNParams(family="lstm", hidden=8), (10, 1), 3),
    (RNNParams(family="lstm", hidden=64, layers=2, dropout=0.1), (33, 1), 11),
    (RNNParams(family="lstm", hidden=40, layers=3), (20, 5), 7),
    (RNNParams(family="gru", hidden=16), (12, 1), 4),
    (RNNParams(family="gru", hidden=64, layers=2), (128, 1), 52),
    (RNNParams(family="gru", hidden=33, layers=3), (9, 2), 1),
]
TCN_CASES = [
    (TCNParams(channels=[8]), (16, 1), 4),
    (TCNParams(channels=[32] * 4, kernel_size=3), (36, 1), 12),
    (TCNParams(channels=[16, 32, 32], kernel_size=5), (50, 3), 6),
]
TF_CASES = [
    (TransformerParams(d_model=16, heads=2, layers=1, ff_dim=32, max_len=10), (10, 1), 3),
    (TransformerParams(d_model=64, heads=4, layers=2, ff_dim=256, max_len=36), (36, 1), 12),
    (
        TransformerParams(d_model=48, heads=4, layers=3, ff_dim=96, max_len=20, memory_tokens=8),
        (20, 2),
        5,
    ),
]


@pytest.mark.parametrize(("p", "shape", "out"), MLP_CASES)
def test_mlp_count_matches_torch(p: MLPParams, shape: tuple[int, ...], out: int) -> None:
    io = IO(shape, out)
    n_in = io.flat
    assert count_params(p, io) == n_params(build_mlp(p, n_in, out))


@pytest.mark.parametrize(("p", "shape", "out"), CNN_CASES)
def test_cnn_count_matches_torch(p: CNNParams, shape: tuple[int, int, int], out: int) -> None:
    model = build_cnn(p, shape[0], out)
    assert count_params(p, IO(shape, out)) == n_params(model)
    assert model(torch.zeros(2, *shape)).shape == (2, out)


@pytest.mark.parametrize(("p", "shape", "out"), RNN_CASES)
def test_rnn_count_matches_torch(p: RNNParams, shape: tuple[int, int], out: int) -> None:
    assert count_params(p, IO(shape, out)) == n_params(build_rnn(p, shape[1], out))


@pytest.mark.parametrize(("p", "shape", "out"), TCN_CASES)
def test_tcn_count_matches_torch(p: TCNParams, shape: tuple[int, int], out: int) -> None:
    model = TCN(p, shape[1], out)
    assert count_params(p, IO(shape, out)) == n_params(model)
    assert model(torch.zeros(2, *shape)).shape == (2, out)


@pytest.mark.parametrize(("p", "shape", "out"), TF_CASES)
def test_transformer_count_matches_torch(
    p: TransformerParams, shape: tuple[int, int], out: int
) -> None:
    model = Transformer(p, shape[1], out)
    assert count_params(p, IO(shape, out)) == n_params(model)
    assert model(torch.zeros(2, *shape)).shape == (2, out)


# --------------------------------------------------------------------------- FLOPs


def _linear_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates of the Linear layers in one forward pass, counted with hooks."""
    total = 0

    def hook(mod: nn.Linear, inp: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        nonlocal total
        total += inp[0].numel() // mod.in_features * mod.in_features * mod.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Linear)]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total


@pytest.mark.parametrize(("p", "shape", "out"), MLP_CASES)
def test_mlp_flops_are_twice_the_macs(p: MLPParams, shape: tuple[int, ...], out: int) -> None:
    io = IO(shape, out)
    model = build_mlp(p, io.flat, out)
    macs = _linear_macs(model, torch.zeros(1, *shape) if len(shape) > 1 else torch.zeros(2, *shape))
    if len(shape) == 1:
        macs //= 2
    assert flops_per_sample(p, io) == 2 * macs


def test_cnn_flops_grow_with_image_area_and_width() -> None:
    p = CNNParams(channels=[16, 32])
    small, large = IO((1, 8, 8), 10), IO((1, 16, 16), 10)
    # four times the pixels: about four times the convolution work (the head is tiny)
    ratio = flops_per_sample(p, large) / flops_per_sample(p, small)
    assert 3.8 < ratio < 4.05
    assert flops_per_sample(CNNParams(channels=[32, 64]), small) > 3 * flops_per_sample(p, small)


# --------------------------------------------------------------------------- tables and sizing


def test_layer_table_sums_to_the_count_and_names_every_block() -> None:
    p = TransformerParams(d_model=32, heads=4, layers=3, ff_dim=64, max_len=12, memory_tokens=4)
    rows = layer_table(p, IO((12, 1), 6))
    assert sum(r.params for r in rows) == count_params(p, IO((12, 1), 6))
    assert [r.name for r in rows if r.kind == "EncoderLayer"] == [f"encoder[{i}]" for i in range(3)]
    assert any(r.kind == "MemoryTokens" and r.params == 4 * 32 for r in rows)


def test_template_kinds_follow_the_blueprint_table() -> None:
    assert [template_kind(f) for f in ("mlp", "cnn", "lstm", "gru", "tcn", "transformer")] == [
        "mlp",
        "cnn",
        "rnn",
        "rnn",
        "tcn",
        "transformer",
    ]


@pytest.mark.parametrize(
    ("family", "io"),
    [
        ("mlp", IO((13,), 3)),
        ("cnn", IO((1, 8, 8), 10)),
        ("lstm", IO((33, 1), 11)),
        ("gru", IO((128, 1), 52)),
        ("tcn", IO((36, 1), 12)),
        ("transformer", IO((36, 1), 12)),
    ],
)
@pytest.mark.parametrize("budget", [5_000, 50_000, 2_000_000])
def test_size_for_budget_meets_max_and_target(family: str, io: IO, budget: int) -> None:
    capped = size_for_budget(family, io, budget, "max")
    if capped is not None:
        assert count_params(capped, io) <= budget
    target = size_for_budget(family, io, budget, "target")
    assert target is not None
    if budget >= 50_000:  # every family can reach these within 10 %
        assert abs(count_params(target, io) - budget) <= 0.1 * budget


def test_size_for_budget_hits_a_14m_transformer_and_refuses_impossible_caps() -> None:
    io = IO((36, 1), 12)
    p = size_for_budget("transformer", io, 14_000_000, "target")
    assert isinstance(p, TransformerParams)
    assert 12_600_000 <= count_params(p, io) <= 15_400_000
    assert p.d_model % p.heads == 0
    # a 1000-class head alone needs more than 1,000 parameters
    assert size_for_budget("cnn", IO((3, 224, 224), 1000), 1_000, "max") is None
