"""The rendered data.py: every source kind loads, splits leak nothing, scalers see only the
training split, batches are slices of on-device tensors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from blueprints import make_blueprint
from rendered import import_rendered

from mlflowctl.build import render

pytestmark = pytest.mark.unit


def _data_module(
    tmp_path: Path, family: str, dataset: str, **kw: Any
) -> tuple[Any, dict[str, Any]]:
    files = render.render(make_blueprint(family, dataset), **kw)
    wanted = {n: files[n] for n in ("preprocessing.py", "data.py")}
    return import_rendered(tmp_path, wanted, "data.py"), yaml.safe_load(files["config.yaml"])


def test_classification_split_is_stratified_and_scaled_on_train_only(tmp_path: Path) -> None:
    data, cfg = _data_module(tmp_path, "mlp", "breast_cancer")
    s = data.load_splits(cfg)
    n = sum(len(s[f"y_{k}"]) for k in ("train", "val", "test"))
    assert n == 569 and abs(len(s["y_test"]) - 0.15 * n) <= 1
    shares = [s[f"y_{k}"].mean() for k in ("train", "val", "test")]
    assert max(shares) - min(shares) < 0.02  # same class balance in every split
    assert np.allclose(s["x_train"].mean(axis=0), 0, atol=1e-5)
    assert not np.allclose(s["x_test"].mean(axis=0), 0, atol=1e-3)  # test is not re-centred
    assert s["classes"] == ["malignant", "benign"]  # the data set's own class names


def test_forecast_windows_are_built_after_the_chronological_split(tmp_path: Path) -> None:
    data, cfg = _data_module(tmp_path, "lstm", "sunspots")
    s = data.load_splits(cfg)
    series, lookback, horizon = s["series"], cfg["data"]["lookback"], cfg["data"]["horizon"]
    val_start, test_start = s["t_val"].min(), s["t_test"].min()
    # every training target lies before validation, every validation target before test
    assert s["t_train"].max() + horizon <= val_start
    assert s["t_val"].max() + horizon <= test_start
    assert s["t_test"].max() + horizon == len(series)
    assert np.isclose(s["y_mean"], series[:val_start].mean())  # scaler saw the training part only
    t = s["t_test"][0]
    expected = (series[t - lookback : t] - s["y_mean"]) / s["y_std"]
    assert np.allclose(s["x_test"][0, :, 0], expected, atol=1e-5)
    assert np.allclose(s["y_test"][0], series[t : t + horizon])
    period = 11
    assert data.seasonal_naive(series, 100, 3, period).tolist() == series[89:92].tolist()


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npz"])
def test_file_sources_load_with_a_target_column(tmp_path: Path, suffix: str) -> None:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True)
    frame = bunch.frame
    path = tmp_path / f"diabetes{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path)
    else:
        np.savez(path, X=bunch.data.to_numpy(), y=bunch.target.to_numpy())
    bp_kwargs = {"data": str(path)}
    data, cfg = _data_module(tmp_path, "mlp", "diabetes", **bp_kwargs)
    cfg["data"]["target"] = "target"
    s = data.load_splits(cfg)
    assert s["x_train"].shape[1] == 10 and s["x_train"].dtype == np.float32
    total = np.concatenate([s["y_train"], s["y_val"], s["y_test"]])
    assert np.isclose(np.sort(total), np.sort(frame["target"].to_numpy())).all()


def test_batches_are_slices_of_device_tensors(tmp_path: Path) -> None:
    import torch

    data, cfg = _data_module(tmp_path, "mlp", "iris")
    module = data.DataModule(cfg)
    loader = module.train_dataloader()
    assert not isinstance(loader, torch.utils.data.DataLoader)
    first = [x for x, _ in loader]
    second = [x for x, _ in loader]
    assert sum(len(x) for x in first) == len(module.splits["x_train"])
    assert not torch.equal(first[0], second[0])  # a new permutation every epoch
    assert all(x.device.type == "cpu" and x.dtype == torch.float32 for x in first)


def _model_module(tmp_path: Path, family: str) -> tuple[Any, dict[str, Any]]:
    files = render.render(make_blueprint(family, "sunspots"))
    name = f"model_{family}.py"
    module = import_rendered(tmp_path, {name: files["model.py"]}, name)
    return module, yaml.safe_load(files["config.yaml"])


@pytest.mark.parametrize("family", ["mlp", "lstm", "gru", "tcn", "transformer"])
def test_forecasts_are_anchored_on_the_last_value_and_ignore_the_level(
    family: str, tmp_path: Path
) -> None:
    """A trend that lifts the whole test span by 3 standard deviations (CO2) lifts the forecast
    by exactly that much: the network itself never sees the level, only the shape."""
    import torch

    module, cfg = _model_module(tmp_path, family)
    torch.manual_seed(0)
    net = module.build_model(cfg).eval()
    assert sum(p.numel() for p in net.parameters()) == cfg["model"]["parameter_count"]
    x = torch.randn(4, *cfg["model"]["input_shape"])
    with torch.no_grad():
        shifted, plain = net(x + 3.0), net(x)
    assert torch.allclose(shifted, plain + 3.0, atol=1e-4)
    zeroed = torch.zeros_like(plain)
    for p in net.parameters():
        torch.nn.init.zeros_(p)
    with torch.no_grad():  # an untrained head forecasts "no change from the last value"
        assert torch.allclose(net(x), zeroed + x[:, -1, :1], atol=1e-6)


@pytest.mark.parametrize("family", ["lstm", "gru"])
def test_recurrent_step_predictions_never_see_later_steps(family: str, tmp_path: Path) -> None:
    """Per-step (sequence-to-sequence) predictions at step t use values up to t only, and the
    chunks of truncated BPTT see exactly what one pass over the whole window sees."""
    import torch

    module, cfg = _model_module(tmp_path, family)
    torch.manual_seed(0)
    net = module.build_model(cfg).eval()
    x = torch.randn(3, *cfg["model"]["input_shape"])
    later = x.clone()
    later[:, 10:] += torch.randn_like(later[:, 10:])
    with torch.no_grad():
        full, _ = net.forward_chunk(x, None, 0)
        changed, _ = net.forward_chunk(later, None, 0)
        first, state = net.forward_chunk(x[:, :7], None, 0)
        second, _ = net.forward_chunk(x[:, 7:], state, 7)
    assert torch.allclose(full[:, :10], changed[:, :10], atol=1e-6)
    assert not torch.allclose(full[:, 10:], changed[:, 10:], atol=1e-3)
    assert torch.allclose(torch.cat([first, second], dim=1), full, atol=1e-5)
