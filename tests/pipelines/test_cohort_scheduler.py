"""A cohort on an existing Dask cluster (``--scheduler``): a scheduler and two worker processes
on the loopback interface, one worker killed (SIGKILL) in the middle of a case."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.pipelines.cohort_for_tests import read_rows, same_case_outputs

IDS = ["case_1", "case_2", "case_3", "case_4"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _dask(*args) -> list[str]:
    module = {
        "scheduler": "distributed.cli.dask_scheduler",
        "worker": "distributed.cli.dask_worker",
    }
    return [sys.executable, "-m", module[args[0]], *args[1:]]


def _mid_case_worker(client, out):
    """(worker address, case id) of a worker inside a case (its staging folder exists)."""
    for address, keys in client.processing().items():
        for key in keys:
            case_id = str(key).split("-")[2]
            if any(out.glob(f".tmp-*-{case_id}")):
                return address, case_id
    return None


def test_scheduler_on_loopback_survives_a_worker_killed_mid_case(toy, tmp_path):
    pytest.importorskip("distributed")
    from distributed import Client

    ds, weights = toy
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    address = f"tcp://127.0.0.1:{_free_port()}"
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen(_dask("scheduler", "--host", "127.0.0.1", "--port",
                                    address.rsplit(":", 1)[1], "--no-dashboard"), **quiet)]  # fmt: skip
    client = None
    try:
        for _ in range(2):
            procs.append(subprocess.Popen(_dask("worker", address, "--nthreads", "1",
                                                "--host", "127.0.0.1", "--no-dashboard"), **quiet))  # fmt: skip
        client = Client(address, timeout="60s")
        client.wait_for_workers(2, timeout=120)
        pids = client.run(os.getpid)  # worker address -> its process (the nanny restarts it)
        out = tmp_path / "out"
        run = subprocess.Popen(
            [sys.executable, "-m", "strokect", "segment", str(ds), "-o", str(out), "--weights",
             str(weights), "--scheduler", address, "--quiet", "--set", "mc_passes=0"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        killed, deadline = None, time.time() + 180
        while killed is None and time.time() < deadline and run.poll() is None:
            killed = _mid_case_worker(client, out)
            time.sleep(0.01)
        assert killed is not None, "no worker was seen inside a case"
        os.kill(pids[killed[0]], signal.SIGKILL)
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr[-2000:]
        statuses = {r["case_id"]: r["status"] for r in read_rows(out / "cohort_cases.csv")}
        assert statuses == dict.fromkeys(IDS, "ok")  # the killed case was retried elsewhere
        summary = json.loads((out / "cohort.json").read_text())
        assert summary["run"]["scheduler"] == "given" and address not in json.dumps(summary)
        assert not list(out.glob(".tmp-*"))
        # the same outputs as one uninterrupted in-process run of the killed case
        ref = tmp_path / "ref"
        done = subprocess.run(
            [sys.executable, "-m", "strokect", "segment", str(ds), "--case", killed[1], "-o",
             str(ref), "--weights", str(weights), "--quiet", "--set", "mc_passes=0"],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        same_case_outputs(out / killed[1], ref)
    finally:
        if client is not None:
            client.close()
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
