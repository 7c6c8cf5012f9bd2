"""CTest entry: the Python client (client/python) against real daemons on loopback.

Builds the client as `pip install` would (its setup.py generates the stubs from
proto/zerod.proto with grpcio-tools) into a scratch directory, starts
`mpirun -np 2 zerod --listen 127.0.0.1:0 --token-file T`, and makes every call of
zerod.Client: submit, watch, status, step, memory, checkpoint, export, cancel.

Usage: python_client_test.py ZEROD_BIN MPIEXEC SOURCE_DIR
"""

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ZEROD, MPIEXEC, SRC = sys.argv[1:4]
WORK = tempfile.mkdtemp(prefix="zerod-pyclient-")


def build_client(into):
    """The package as setup.py's build_py makes it: the sources and generated stubs."""
    pkg = os.path.join(SRC, "client", "python")
    spec = importlib.util.spec_from_file_location("zerod_client_setup", os.path.join(pkg, "setup.py"))
    setup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup)
    shutil.copytree(os.path.join(pkg, "zerod"), os.path.join(into, "zerod"))
    setup.generate_stubs(into)
    sys.path.insert(0, into)


build_client(os.path.join(WORK, "lib"))
import zerod  # noqa: E402  (built just above)

import grpc  # noqa: E402


def path(name):
    return os.path.join(WORK, name)


class Daemons:
    """mpirun -np 2 zerod in its own process group; its address read from the log."""

    def __init__(self, token_file):
        self.log = path("daemons.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [MPIEXEC, "--oversubscribe", "--allow-run-as-root", "-np", "2", ZEROD,
                 "--listen", "127.0.0.1:0", "--token-file", token_file],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env=dict(os.environ, OMP_NUM_THREADS="1"))
        deadline = time.time() + 90
        while time.time() < deadline:
            with open(self.log) as log:
                m = re.search(r"coordinator listening on (\S+)", log.read())
            if m:
                self.addr = m.group(1)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        with open(self.log) as log:
            raise RuntimeError("the daemons did not come up:\n" + log.read())

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        subprocess.run([ZEROD, "--prepare-data", "--bytes", "--input",
                        os.path.join(SRC, "data/corpus/vim_user_manual.txt"), "--output",
                        path("corpus.bin")], check=True, stdout=subprocess.DEVNULL)
        with open(path("ds.json"), "w") as f:
            f.write('{"train_batch_size": 8, "train_micro_batch_size_per_gpu": 2,'
                    ' "optimizer": {"type": "AdamW", "params": {"lr": 2e-3}},'
                    ' "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"},'
                    ' "offload_optimizer": {"device": "cpu"}}}')
        with open(path("token"), "w") as f:
            f.write("s3cret-token\n")
        cls.daemons = Daemons(path("token"))
        cls.client = zerod.Client(cls.daemons.addr, token="s3cret-token", timeout=300)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.client.shutdown()
        finally:
            cls.client.close()
            cls.daemons.stop()
            shutil.rmtree(WORK, ignore_errors=True)

    def job(self, steps, **fields):
        return self.client.submit(model_dir=os.path.join(SRC, "configs/models/tiny-llama"),
                                  ds_config_path=path("ds.json"), data_path=path("corpus.bin"),
                                  seq_len=32, steps=steps, **fields)

    def test_a_call_without_the_token_is_refused(self):
        with zerod.Client(self.daemons.addr) as anonymous:
            with self.assertRaises(zerod.ZerodError) as e:
                anonymous.jobs()
        self.assertEqual(e.exception.code, grpc.StatusCode.UNAUTHENTICATED)

    def test_submit_and_watch_give_every_step_then_the_job_succeeds(self):
        job = self.job(6, name="watched")
        steps = list(self.client.watch(job))
        self.assertEqual([s.step for s in steps], [1, 2, 3, 4, 5, 6])
        self.assertTrue(all(s.loss > 0 for s in steps))
        status = self.client.status(job)
        self.assertEqual(zerod.pb.JobState.Name(status.state), "SUCCEEDED")
        self.assertEqual(status.name, "watched")
        self.assertEqual(status.steps_done, 6)
        self.assertIn(job, [j.job_id for j in self.client.jobs()])

    def test_a_paused_job_steps_saves_exports_reports_memory_and_is_cancelled(self):
        job = self.job(10, start_paused=True)
        self.assertEqual([s.step for s in self.client.step(job, 2)], [1, 2])
        self.assertEqual(zerod.pb.JobState.Name(self.client.status(job).state), "PAUSED")
        memory = self.client.memory()
        self.assertEqual([r.rank for r in memory.ranks], [0, 1])
        self.assertTrue(all(r.rss_bytes > 0 for r in memory.ranks))
        self.assertEqual(self.client.checkpoint(job, path("ckpt")), 2)
        self.assertTrue(os.path.exists(path("ckpt/rank_00001_of_00002.safetensors")))
        self.assertEqual(self.client.export(job, path("hf")), 2)
        self.assertTrue(os.path.exists(path("hf/config.json")))
        self.client.cancel(job)
        self.assertEqual(zerod.pb.JobState.Name(self.client.wait(job).state), "CANCELLED")

    def test_a_misspelt_field_names_the_known_one_and_a_bad_value_is_the_daemons_refusal(self):
        with self.assertRaises(TypeError) as e:
            self.job(1, seq_lenn=8)
        self.assertIn("did you mean 'seq_len'", str(e.exception))
        with self.assertRaises(zerod.ZerodError) as refused:
            self.job(0)
        self.assertEqual(refused.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("steps", refused.exception.message)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
