"""The client: one gRPC channel to rank 0's coordinator, one method per call.

Not a second definition of the job: submit's keyword arguments are the proto's JobSpec
fields themselves (the names of the job field table), read from the generated
descriptor, so a field added to the proto is a keyword here with no change to this file.
The daemons validate the spec, as they do for zeroctl; their refusals come back as
ZerodError with the same message.
"""

import difflib
from typing import Iterator, List, Optional

import grpc

from zerod._proto import zerod_pb2 as pb
from zerod._proto import zerod_pb2_grpc as pb_grpc

# submit's keyword arguments: every field of message JobSpec.
JOB_SPEC_FIELDS = tuple(f.name for f in pb.JobSpec.DESCRIPTOR.fields)

# States after which a job runs no more steps (proto/job_state.h's HasEnded).
ENDED_STATES = frozenset(
    pb.JobState.Value(name)
    for name in ("SUCCEEDED", "FAILED", "CANCELLED", "PREEMPTED", "INTERRUPTED", "SAVE_FAILED"))


class ZerodError(Exception):
    """A call the daemons refused or could not answer: `code` is the grpc.StatusCode,
    `message` the daemons' own words (what zeroctl prints)."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


def _spec(fields: dict) -> "pb.JobSpec":
    unknown = [k for k in fields if k not in JOB_SPEC_FIELDS]
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, JOB_SPEC_FIELDS, n=1)
            hints.append(f"'{k}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise TypeError(f"submit: unknown job field {', '.join(hints)}; the fields are "
                        f"{', '.join(JOB_SPEC_FIELDS)}")
    # None means "not given": the field keeps its unset form (the daemons' default).
    return pb.JobSpec(**{k: v for k, v in fields.items() if v is not None})


class Client:
    """A connection to the daemons at `addr` ("host:port", as `zerod --listen` prints).

    token: the daemons' --token-file secret, sent as `authorization: Bearer TOKEN`.
    root_certificates: PEM bytes of the CA that signed the daemons' TLS certificate
    (their --tls-cert); without it the channel is plaintext, as for a loopback listen.
    timeout: seconds each unary call may take (None: no limit; watch has none).
    """

    def __init__(self, addr: str, token: Optional[str] = None, *,
                 root_certificates: Optional[bytes] = None, timeout: Optional[float] = None):
        self.addr = addr
        self._metadata = (("authorization", f"Bearer {token.strip()}"),) if token else ()
        self._timeout = timeout
        if root_certificates is not None:
            creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(addr, creds)
        else:
            self._channel = grpc.insecure_channel(addr)
        self._stub = pb_grpc.CoordinatorStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method, request, **kwargs):
        try:
            return method(request, metadata=self._metadata, timeout=self._timeout, **kwargs)
        except grpc.RpcError as e:
            raise ZerodError(e.code(), e.details() or "") from None

    # ---- Jobs
    def submit(self, **fields) -> str:
        """Queues a job; returns its id ("job-3"). The keywords are JobSpec's fields
        (JOB_SPEC_FIELDS): model_dir, ds_config_path or ds_config_json, data_path, steps,
        seq_len, save_dir, ... Paths are read by the daemons, from their working directory."""
        return self._call(self._stub.SubmitJob, pb.SubmitJobRequest(spec=_spec(fields))).job_id

    def status(self, job_id: str) -> "pb.JobStatus":
        return self._call(self._stub.GetJob, pb.GetJobRequest(job_id=job_id))

    def jobs(self) -> List["pb.JobStatus"]:
        return list(self._call(self._stub.ListJobs, pb.ListJobsRequest()).jobs)

    def watch(self, job_id: str, from_start: bool = True) -> Iterator["pb.StepMetrics"]:
        """The job's steps as they happen (every step so far first, unless
        from_start=False), until the job ends; then status() says how it ended."""
        try:
            for event in self._stub.WatchJob(
                    pb.WatchJobRequest(job_id=job_id, from_start=from_start),
                    metadata=self._metadata):
                if event.HasField("step"):
                    yield event.step
        except grpc.RpcError as e:
            raise ZerodError(e.code(), e.details() or "") from None

    def wait(self, job_id: str) -> "pb.JobStatus":
        """Blocks until the job ends; returns its final status."""
        for _ in self.watch(job_id, from_start=False):
            pass
        return self.status(job_id)

    def step(self, job_id: str, steps: int = 1) -> List["pb.StepMetrics"]:
        """Runs `steps` more steps of a job submitted with start_paused=True."""
        return list(
            self._call(self._stub.StepJob, pb.StepJobRequest(job_id=job_id, steps=steps)).steps)

    def cancel(self, job_id: str) -> "pb.JobStatus":
        return self._call(self._stub.CancelJob, pb.CancelJobRequest(job_id=job_id))

    # ---- The resident job's state
    def checkpoint(self, job_id: str, dir: str) -> int:
        """Saves the job's sharded checkpoint into `dir`; returns the step it holds."""
        return self._call(self._stub.SaveCheckpoint,
                          pb.SaveCheckpointRequest(job_id=job_id, dir=dir)).step

    def export(self, job_id: str, dir: str) -> int:
        """Writes Hugging Face weights (config.json, safetensors, tokenizer files) into
        `dir`; returns the step they are of."""
        return self._call(self._stub.ExportHf, pb.ExportHfRequest(job_id=job_id, dir=dir)).step

    # ---- The daemons
    def memory(self) -> "pb.GetMemoryStatsResponse":
        """Every rank's GPU, pinned host and resident memory at the last step boundary."""
        return self._call(self._stub.GetMemoryStats, pb.GetMemoryStatsRequest())

    def health(self) -> "pb.HealthResponse":
        return self._call(self._stub.Health, pb.HealthRequest())

    def shutdown(self) -> None:
        """Cancels the active and queued jobs; then every rank exits."""
        self._call(self._stub.Shutdown, pb.ShutdownRequest())
