"""Prints the reference encodings that ReferenceBytesTests compares ClusterWire against.

The messages are built with Google's Python protobuf (the reference implementation) from
Protos/infinity/v1; each line is `Name: hex`. The values here must match the Swift values built
in ReferenceBytesTests.swift. Run from the repository root:

    python3 -m venv /tmp/pbvenv && /tmp/pbvenv/bin/pip install protobuf grpcio-tools
    mkdir -p /tmp/pbgen && /tmp/pbvenv/bin/python -m grpc_tools.protoc -IProtos --python_out=/tmp/pbgen \
        Protos/infinity/v1/tensor.proto Protos/infinity/v1/job.proto \
        Protos/infinity/v1/coordinator.proto Protos/infinity/v1/worker.proto
    PYTHONPATH=/tmp/pbgen /tmp/pbvenv/bin/python Tests/ClusterWireTests/make_reference_bytes.py

(made with protobuf 7.36.2 / grpcio-tools, Python 3.11).
"""
import struct

from infinity.v1 import coordinator_pb2, job_pb2, tensor_pb2, worker_pb2


def float32_bytes(values):
    return struct.pack(f"<{len(values)}f", *values)


def job_parameters():
    return job_pb2.JobParameters(
        model="zeroscope",
        embeddings=job_pb2.PromptEmbeddings(
            prompts=tensor_pb2.Tensor(dtype=tensor_pb2.DTYPE_FLOAT32, shape=[1, 2, 2],
                                      data=float32_bytes([1.5, -2.0, 0.25, 3.0])),
            negative=tensor_pb2.Tensor(dtype=tensor_pb2.DTYPE_FLOAT32, shape=[2, 1],
                                       data=float32_bytes([-0.5, 8.0]))),
        frames=48, clip_frames=16, height=40, width=64, steps=30, guidance=9.5,
        seed=0xFEDC_BA98_7654_3210, scheduler=job_pb2.SCHEDULER_KIND_DPM_SOLVER_MULTISTEP, fps=8.0,
        video_infinity=job_pb2.VideoInfinityParameters(
            local_frames=8, global_frames=16, phase_timestep=800, local_bias=10.0, global_bias=-10.0,
            token_count_scale=True, reference_padding=False, reference_global_sampling=True,
            sync_group_norm=True))


def messages():
    yield "JobParameters", job_parameters()
    yield "SubmitJobRequest", coordinator_pb2.SubmitJobRequest(
        parameters=job_parameters(), label="nightly", checkpoint_interval=5)
    yield "JobEvent.placement", coordinator_pb2.JobEvent(
        placement=coordinator_pb2.JobPlacement(worker_ids=["w-1", "w-2", "w-1"], epoch=3))
    yield "JobEvent.progress", coordinator_pb2.JobEvent(
        progress=coordinator_pb2.JobProgress(step=7, steps=30, clips=3, elapsed_ms=123456,
                                             exchange_fraction=0.125))
    yield "StepResponse", worker_pb2.StepResponse(clips=[0, -1, 300], step_micros=-5,
                                                  exchange_micros=1 << 40)
    yield "ContextContribution", worker_pb2.ContextContribution(
        key=worker_pb2.ContextKey(job_id="job-9", epoch=2, forward=-3,
                                  kind=worker_pb2.EXCHANGE_KIND_GROUP_NORM, site=11),
        from_clip=4, part=worker_pb2.CONTEXT_PART_REDUCE,
        tensor=tensor_pb2.Tensor(dtype=tensor_pb2.DTYPE_FLOAT64, shape=[0], data=b""),
        values=[1.0, -2.5, 1e-300])
    yield "CheckpointChunk.data", worker_pb2.CheckpointChunk(data=bytes([0, 1, 2, 254, 255]))
    yield "WorkerInfo", coordinator_pb2.WorkerInfo(
        worker_id="w-7", address="10.0.0.7:7070", model_name="zeroscope", model_hash="ab" * 32,
        capacity=coordinator_pb2.WorkerCapacity(max_clips=4, memory_bytes=64 << 30, backend="cpu",
                                                threads=16, device="EPYC"),
        state=coordinator_pb2.WORKER_STATE_DRAINING, active_clips=2,
        last_heartbeat_unix_ms=1_700_000_000_123, version="0.4.0")


for name, message in messages():
    print(f"{name}: {message.SerializeToString().hex()}")
