"""The forecasters' fitted linear path (issue 14 item 7): a unit-root check chooses the anchor,
ridge / iterated-AR / seasonal-mean maps are fitted on the training split and the best on
validation is kept, and every family applies it identically (per step and per window)."""

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


def _load(tmp_path: Path, name: str, source: str) -> Any:
    return import_rendered(tmp_path, {f"{name}.py": source}, f"{name}.py")


def _project(tmp_path: Path, family: str, dataset: str = "sunspots") -> tuple[Any, Any, dict]:
    files = render.render(make_blueprint(family, dataset))
    (tmp_path / "preprocessing.py").write_text(files["preprocessing.py"])
    data = _load(tmp_path, "data", files["data.py"])
    model = _load(tmp_path, "model", files["model.py"])
    return data, model, yaml.safe_load(files["config.yaml"])


def test_unit_root_check_tells_a_trend_from_a_stationary_series(tmp_path: Path) -> None:
    data, _, _ = _project(tmp_path, "mlp")
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(0.1, 1.0, 400))
    noise = np.sin(np.arange(400) / 3.0) + rng.normal(0, 0.3, 400)
    assert data.unit_root_t(walk) > data.ADF_CRITICAL
    assert data.unit_root_t(noise) < data.ADF_CRITICAL


def test_iterated_ar_map_equals_the_recursion(tmp_path: Path) -> None:
    data, _, _ = _project(tmp_path, "mlp")
    rng = np.random.default_rng(1)
    train = np.sin(np.arange(300) / 4.0) + rng.normal(0, 0.1, 300)
    window = train[-20:]
    for differenced in (False, True):
        weight, bias = data.iterated_ar(train, 3, 20, 5, differenced=differenced)
        z = np.diff(train) if differenced else train
        rows = np.stack([z[t - 3 : t][::-1] for t in range(3, len(z))])
        coef = np.linalg.lstsq(np.column_stack([np.ones(len(rows)), rows]), z[3:], rcond=None)[0]
        history = list(np.diff(window) if differenced else window)
        level, expected = window[-1], []
        for _ in range(5):
            step = coef[0] + float(np.dot(coef[1:], history[::-1][:3]))
            history.append(step)
            level = level + step if differenced else step
            expected.append(level)
        assert np.allclose(weight @ window + bias, expected)


def test_fitted_path_is_chosen_on_validation_and_recorded(tmp_path: Path) -> None:
    data, _, cfg = _project(tmp_path, "gru")
    s = data.load_splits(cfg)
    path = s["preprocessing"]["series"]["linear_path"]
    assert path["anchor"] == "none"  # sunspots cycle around a mean: stationary
    best = min(path["candidates"].values())
    assert path["val_mae"] == best or (path["chosen"].startswith("mean") and path["val_mae"] < best)
    assert any(name.startswith("iterated AR(") for name in path["candidates"])
    fitted = cfg["model"]["fitted_skip"]
    assert np.asarray(fitted["weight"]).shape == (cfg["data"]["horizon"], cfg["data"]["lookback"])


@pytest.mark.parametrize("family", ["mlp", "gru", "lstm", "tcn", "transformer"])
def test_every_family_starts_from_the_fitted_map(tmp_path: Path, family: str) -> None:
    """With the residual's head at zero the network forecasts exactly the fitted linear map, and
    the map travels in the state dict (what predict.py, the pyfunc and ONNX load)."""
    import torch

    data, model, cfg = _project(tmp_path, family)
    s = data.load_splits(cfg)
    fitted = cfg["model"]["fitted_skip"]
    net = model.build_model(cfg).eval()
    assert sum(p.numel() for p in net.parameters()) == cfg["model"]["parameter_count"]
    x = torch.as_tensor(s["x_val"][:8], dtype=torch.float32)
    flat = x[:, :, 0].double().numpy()
    level = flat[:, -1:] if fitted["anchor"] == "last" else 0.0
    expected = (flat - level) @ np.asarray(fitted["weight"]).T + np.asarray(fitted["bias"]) + level
    with torch.no_grad():
        assert np.allclose(net(x).numpy(), expected, atol=1e-4)
        assert torch.allclose(net.skip.per_step(x)[:, -1], net.skip(x), atol=1e-5)
    bare = dict(cfg, model={k: v for k, v in cfg["model"].items() if k != "fitted_skip"})
    reloaded = model.build_model(bare).eval()
    reloaded.load_state_dict(net.state_dict())
    with torch.no_grad():
        assert torch.allclose(reloaded(x), net(x), atol=1e-6)


def test_the_kept_map_is_refitted_on_training_and_validation(tmp_path: Path) -> None:
    """Chosen on validation with the training-only fit, the map is fitted again on training +
    validation for the test (as the baselines are refitted); without that series it is not."""
    data, _, cfg = _project(tmp_path, "gru")
    s = data.load_splits(cfg)
    mean, std = s["y_mean"], s["y_std"]
    scaled = (np.asarray(s["series"], dtype=np.float64) - mean) / std
    val_start, test_start = int(s["t_val"][0]), int(s["t_test"][0])
    train = scaled[:val_start]
    alone = data.fit_linear_skip(train, s, (mean, std))
    assert alone["final_weight"] == alone["weight"] and alone["final_bias"] == alone["bias"]
    refit = data.fit_linear_skip(train, s, (mean, std), scaled[:test_start])
    assert refit["chosen"] == alone["chosen"] and refit["weight"] == alone["weight"]
    assert np.asarray(refit["final_weight"]).shape == np.asarray(refit["weight"]).shape
    assert not np.allclose(refit["final_weight"], refit["weight"])

    def val_mae(weight: Any, bias: Any) -> float:
        x = np.asarray(s["x_val"], dtype=np.float64)[:, :, 0]
        level = x[:, -1:] if refit["anchor"] == "last" else 0.0
        pred = (x - level) @ np.asarray(weight).T + np.asarray(bias) + level
        return float(np.abs(pred - (np.asarray(s["y_val"]) - mean) / std).mean())

    # fitted with the validation windows in, the map fits them at least as well
    assert val_mae(refit["final_weight"], refit["final_bias"]) <= val_mae(
        refit["weight"], refit["bias"]
    )
