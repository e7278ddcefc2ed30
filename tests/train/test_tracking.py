"""The training log: interval-mean losses in metrics.csv, and the trackers (TensorBoard, W&B offline, MLflow's
local store) read back, including a resumed run continuing the same tracker run. Nothing reaches the network."""

from __future__ import annotations

import json

import pytest

from litft.cli import main
from tests.support.training import command, read_rows, train_losses
from tests.support.wandb_records import wandb_config_and_history


def test_logged_loss_is_the_token_weighted_mean_of_the_interval(tmp_path, uninterrupted, lit_base, ft_data):
    every_step = read_rows(uninterrupted("full"))
    out = tmp_path / "out"
    main(command("full", lit_base, ft_data, out, ["--train.log_interval", "3"]))
    rows = [row for row in every_step if row["loss"]]
    tokens = [int(row["loss_tokens"]) for row in rows]
    per_step = [
        (float(row["loss"]), count - before) for row, count, before in zip(rows, tokens, [0, *tokens[:-1]], strict=True)
    ]
    expected = [
        sum(loss * count for loss, count in per_step[start : start + 3])
        / sum(c for _, c in per_step[start : start + 3])
        for start in (0, 3)
    ]
    assert len({count for _, count in per_step}) > 1  # records differ in length: weighting matters
    assert [int(row["step"]) for row in read_rows(out) if row["loss"]] == [3, 6]
    assert train_losses(out) == pytest.approx(expected, rel=1e-9)


@pytest.fixture
def offline_trackers(monkeypatch, tmp_path):
    """Nothing reaches the network: W&B offline, MLflow's file store inside the run folder."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def scalars(event_dir, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(event_dir))
    events.Reload()
    return [(event.step, event.value) for event in events.Scalars(tag)]


def test_trackers_log_config_and_metrics_and_resume_continues_the_run(offline_trackers, tmp_path, lit_base, pt_data):
    import mlflow

    out = tmp_path / "out"
    args = command("pretrain", lit_base, pt_data, out, ["--logger", "tensorboard", "wandb", "mlflow"])
    main(args)
    csv_losses = [(int(row["step"]), float(row["loss"])) for row in read_rows(out) if row["loss"]]
    assert [step for step, _ in csv_losses] == [1, 2, 3, 4, 5, 6]
    ids = json.loads((out / "logs" / "trackers.json").read_text())

    # TensorBoard: the event files hold the CSV's losses (float32) and the validation loss.
    logged = scalars(out / "logs" / "tensorboard" / "version_0", "loss")
    assert [step for step, _ in logged] == [step for step, _ in csv_losses]
    assert [value for _, value in logged] == pytest.approx([loss for _, loss in csv_losses], rel=1e-6)
    assert [step for step, _ in scalars(out / "logs" / "tensorboard" / "version_0", "val_loss")] == [3, 6]

    # W&B offline: one run file with the run's config and every logged row.
    (run_file,) = (out / "logs" / "wandb").glob(f"offline-run-*-{ids['wandb']}/run-{ids['wandb']}.wandb")
    config, history = wandb_config_and_history(run_file)
    assert config["optimizer"]["lr"] == 1e-3 and config["train"]["max_steps"] == 6 and config["method"] == "pretrain"
    assert config["run_dir"] == str(out.resolve())
    losses = [(row["trainer/global_step"], row["loss"]) for row in history if "loss" in row]
    assert losses == csv_losses

    # MLflow's local store (SQLite in the run folder): the params and the whole loss history of one run.
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{(out / 'logs').resolve()}/mlflow.db")
    run = client.get_run(ids["mlflow"])
    assert run.data.params["optimizer/lr"] == "0.001" and run.data.params["method"] == "pretrain"
    history = [(m.step, m.value) for m in client.get_metric_history(ids["mlflow"], "loss")]
    assert history == csv_losses

    # Resume from step 4: the same tracker runs get steps 5 and 6 again.
    main(args + ["--resume", str(out / "step-000004")])
    assert json.loads((out / "logs" / "trackers.json").read_text()) == ids
    history = sorted((m.step, m.value) for m in client.get_metric_history(ids["mlflow"], "loss"))
    assert [step for step, _ in history] == [1, 2, 3, 4, 5, 5, 6, 6]
    assert len(client.search_runs([run.info.experiment_id])) == 1
    assert len(list((out / "logs" / "wandb").glob(f"offline-run-*-{ids['wandb']}"))) == 2  # one id, two sessions
    assert [step for step, _ in scalars(out / "logs" / "tensorboard" / "version_0", "loss")][-2:] == [5, 6]

    # Start over: every file the trackers wrote is in the run's marker and goes; a user's file in logs/ stays.
    (out / "logs" / "wandb" / "NOTES.md").write_text("mine")
    main(command("pretrain", lit_base, pt_data, out, ["--overwrite", "true", "--train.max_steps", "2"]))
    left = sorted(path.relative_to(out / "logs").as_posix() for path in (out / "logs").rglob("*"))
    assert left == ["metrics.csv", "wandb", "wandb/NOTES.md"]


def test_wandb_without_login_and_missing_packages_are_one_sentence(monkeypatch, tmp_path, lit_base, pt_data, capsys):
    from litft.train import logging

    (tmp_path / "netrc").write_text("")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    out = tmp_path / "out"
    for logger, expected in (("wandb", "WANDB_MODE=offline"), ("mlflow", "pip install 'litft[tracking]'")):
        if logger == "mlflow":
            monkeypatch.setattr(logging.importlib.util, "find_spec", lambda name: None)
        with pytest.raises(SystemExit) as error:
            main(command("pretrain", lit_base, pt_data, out, ["--logger", "csv", logger]))
        assert error.value.code == 2
        message = capsys.readouterr().err.strip()
        assert expected in message and message.count("\n") == 0, message
    assert not out.exists()


def test_a_run_resumed_from_an_earlier_litft_keeps_its_rows_under_the_new_column_names(tmp_path):
    """metrics.csv's `tokens` and `tokens_per_s` were renamed to say what they count (loss tokens, input tokens)."""
    import csv

    from litft.train.logging import MetricsLog

    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "metrics.csv").write_text(
        "step,epoch,tokens,loss,lr,grad_norm,tokens_per_s,useful_tokens_per_s\n"
        "1,0,40,2.5,0.001,1.0,900,300\n2,0,80,2.4,0.001,1.0,950,310\n3,0,120,2.3,0.001,1.0,990,320\n",
        encoding="utf-8",
    )
    log = MetricsLog(tmp_path, enabled=True, resume_step=2)
    log.close()
    with open(tmp_path / "logs" / "metrics.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["step"], r["loss_tokens"], r["input_tokens_per_s"], r["loss_tokens_per_s"]) for r in rows] == [
        ("1", "40", "900", "300"),
        ("2", "80", "950", "310"),
    ]
