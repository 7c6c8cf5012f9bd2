"""zerod's Python client: the Coordinator gRPC API (proto/zerod.proto) as method calls.

    import zerod
    c = zerod.Client("127.0.0.1:7070", token="...")
    job = c.submit(model_dir="models/tiny", ds_config_path="ds.json",
                   data_path="corpus.bin", steps=100)
    for step in c.watch(job):
        print(step.step, step.loss)
"""

from zerod.client import Client, ZerodError, JOB_SPEC_FIELDS, ENDED_STATES
from zerod._proto import zerod_pb2 as pb

__all__ = ["Client", "ZerodError", "JOB_SPEC_FIELDS", "ENDED_STATES", "pb"]
