"""T3: the rendered LightningModule with the lean Trainer settings costs at most 2x a plain
PyTorch loop per step on a toy model (same network, same on-device batches, same optimizer)."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from blueprints import make_blueprint

from mlflowctl.build import render

EPOCHS = 8


def _load(root: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, root / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.integration
@pytest.mark.slow
def test_lightning_overhead_per_step_is_at_most_twice_a_raw_loop(tmp_path: Path) -> None:
    import lightning as L
    import torch

    files = render.render(make_blueprint("mlp", "digits"))
    for rel, text in files.items():
        if "/" not in rel:
            (tmp_path / rel).write_text(text)
    cfg = yaml.safe_load(files["config.yaml"])
    cfg["training"]["max_epochs"] = EPOCHS
    torch.set_num_threads(1)
    try:
        data_mod, model_mod = _load(tmp_path, "data"), _load(tmp_path, "model")
        data = data_mod.DataModule(cfg)
        data.setup()
        batches = len(data.train_dataloader())

        # plain PyTorch: the same network, batches and optimizer, no Lightning
        L.seed_everything(0, verbose=False)
        net = model_mod.build_model(cfg)
        optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        loader = data.train_dataloader()
        started = time.perf_counter()
        for _ in range(EPOCHS):
            for x, y in loader:
                optimizer.zero_grad(set_to_none=True)
                loss_fn(net(x), y).backward()
                optimizer.step()
        raw = time.perf_counter() - started

        lit = model_mod.LitModel(cfg, steps_per_epoch=batches)
        trainer = L.Trainer(
            accelerator="cpu",
            max_epochs=EPOCHS,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            limit_val_batches=0,
            log_every_n_steps=1_000_000,
        )
        started = time.perf_counter()
        trainer.fit(lit, train_dataloaders=data.train_dataloader())
        wrapped = time.perf_counter() - started
    finally:
        sys.modules.pop("data", None)
        sys.modules.pop("model", None)
    steps = EPOCHS * batches
    print(f"raw {1000 * raw / steps:.2f} ms/step, lightning {1000 * wrapped / steps:.2f} ms/step")
    assert trainer.global_step == steps
    assert wrapped <= 2.0 * raw + 0.5  # 0.5 s: Trainer start-up, paid once per run
