"""The cluster's description is read or refused before any worker starts (the 2-process
runs are in tests/e2e/test_multi_worker.py)."""

import json

import pytest

from bertgpt_tf.config import Config, fields_ignored_by
from bertgpt_tf.training import cluster


@pytest.fixture(autouse=True)
def no_cluster(monkeypatch):
    for name in ("TF_CONFIG", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)


def test_one_machine_without_tf_config(tmp_path):
    assert cluster.connect("") is None
    assert cluster.is_chief()
    assert cluster.worker_run_dir(str(tmp_path)) == str(tmp_path)
    assert cluster.chief_run_dir(str(tmp_path)) == str(tmp_path)
    assert cluster.agreed_mean(2.5) == 2.5
    assert cluster.shard_by_data("a", None) == ("a", None)


def test_a_cluster_of_one_task_is_one_machine(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", cluster.local_tf_config([1234], 0))
    assert cluster.connect("") is None


@pytest.mark.parametrize(
    "tf_config, message",
    [("not json", "not a cluster description"), ('{"task": {}}', "not a cluster description")],
)
def test_a_broken_tf_config_is_refused(monkeypatch, tf_config, message):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=message):
        cluster.connect("")


def test_an_asked_for_cluster_that_is_not_there_is_refused():
    with pytest.raises(ValueError, match="TF_CONFIG is not set"):
        cluster.connect("tf_config")
    with pytest.raises(ValueError, match="not inside a SLURM job"):
        cluster.connect("slurm")


def test_cluster_resolver_flag_is_checked_and_only_for_training_tasks():
    with pytest.raises(ValueError, match="cluster_resolver must be tf_config|slurm"):
        Config.from_preset("mini", cluster_resolver="kubernetes")
    assert fields_ignored_by("export", ["cluster_resolver"]) == ["cluster_resolver"]
    for task in ("mlm", "clm", "classify", "ner", "translate"):
        assert fields_ignored_by(task, ["cluster_resolver"]) == []


def test_local_tf_config_names_every_worker_and_this_one():
    config = json.loads(cluster.local_tf_config([10, 11], 1))
    assert config == {
        "cluster": {"worker": ["127.0.0.1:10", "127.0.0.1:11"]},
        "task": {"type": "worker", "index": 1},
    }
    a, b = cluster.free_ports(2)
    assert a != b and min(a, b) > 0
