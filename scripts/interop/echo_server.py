"""The grpcio reference server for the RPC interop tests: infinity.testing.v1.Echo (all four
call shapes, as documented in Protos/infinity/testing/v1/echo.proto) and grpc.health.v1.Health.

    .venv-interop/bin/python scripts/interop/echo_server.py [--host 127.0.0.1] [--port 0]

Prints `LISTENING <port>` on stdout once it serves, then runs until SIGTERM/SIGINT (graceful
stop: in-flight calls get 1 s). With INTEROP_TOKEN set in the environment, every Echo call needs
`authorization: Bearer <token>` (UNAUTHENTICATED otherwise); Health is exempt, as in our server.
The token is read from the environment, never a flag, as the cluster's token is.

Get with text `__cancelled__` answers with the number of calls that ended (cancelled by their
client, or past their deadline) while their handler waited out delay_ms, as echo.proto says.
"""

import argparse
import hmac
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stubs  # noqa: E402

pb = stubs.load()
ECHO_SERVICE = "infinity.testing.v1.Echo"
HEALTH_PREFIX = "/grpc.health.v1.Health/"
MAX_MESSAGE = 80 * 1024 * 1024  # room for the 64 MiB interop message plus framing
CODES = {code.value[0]: code for code in grpc.StatusCode}


class Echo(pb.echo_pb2_grpc.EchoServicer):
    def __init__(self):
        self.cancelled = 0
        self.lock = threading.Lock()

    # -- helpers --------------------------------------------------------------------------------

    def _start(self, context):
        """Echoes x-echo-* request metadata as headers and (renamed) trailers."""
        echoed = [(key, value) for key, value in context.invocation_metadata() if key.startswith("x-echo-")]
        context.send_initial_metadata(echoed)
        context.set_trailing_metadata([("x-echo-trailer-" + key[len("x-echo-"):], value) for key, value in echoed])

    @staticmethod
    def _fail_if_asked(request, context):
        if request.status_code != 0:
            code = CODES.get(request.status_code)
            if code is None:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"status_code {request.status_code} is not 1...16")
            context.abort(code, request.status_message)

    def _sleep(self, request, context):
        """Sleeps delay_ms, waking early when the call ends (cancelled by its client or past its
        deadline): then counts it for `__cancelled__` and returns False."""
        deadline = time.monotonic() + request.delay_ms / 1000
        while context.is_active() and time.monotonic() < deadline:
            time.sleep(min(0.005, max(0, deadline - time.monotonic())))
        if context.is_active():
            return True
        with self.lock:
            self.cancelled += 1
        return False

    # -- methods --------------------------------------------------------------------------------

    def Get(self, request, context):
        self._start(context)
        if request.text == "__cancelled__":
            with self.lock:
                return pb.echo_pb2.EchoResponse(text=str(self.cancelled))
        if not self._sleep(request, context):
            return pb.echo_pb2.EchoResponse()
        self._fail_if_asked(request, context)
        return pb.echo_pb2.EchoResponse(text=request.text, payload=request.payload, index=0)

    def Expand(self, request, context):
        self._start(context)
        self._fail_if_asked(request, context)
        for index in range(request.repeat):
            if not self._sleep(request, context):
                return
            yield pb.echo_pb2.EchoResponse(text=request.text, payload=request.payload, index=index)

    def Collect(self, request_iterator, context):
        self._start(context)
        texts, payloads, count, first = [], [], 0, None
        for request in request_iterator:
            if first is None:
                first = request
                self._fail_if_asked(request, context)
            texts.append(request.text)
            payloads.append(request.payload)
            count += 1
        if first is not None and not self._sleep(first, context):
            return pb.echo_pb2.EchoResponse()
        return pb.echo_pb2.EchoResponse(text=" ".join(texts), payload=b"".join(payloads), index=count)

    def Update(self, request_iterator, context):
        self._start(context)
        for index, request in enumerate(request_iterator):
            self._fail_if_asked(request, context)
            if not self._sleep(request, context):
                return
            yield pb.echo_pb2.EchoResponse(text=request.text, payload=request.payload, index=index)


class Health(pb.health_pb2_grpc.HealthServicer):
    SERVING = {"": True, ECHO_SERVICE: True, "grpc.health.v1.Health": True}

    def Check(self, request, context):
        if request.service not in self.SERVING:
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service '{request.service}'")
        return pb.health_pb2.HealthCheckResponse(status=pb.health_pb2.HealthCheckResponse.SERVING)

    def Watch(self, request, context):
        status = (pb.health_pb2.HealthCheckResponse.SERVING if request.service in self.SERVING
                  else pb.health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
        yield pb.health_pb2.HealthCheckResponse(status=status)
        while context.is_active():
            time.sleep(0.05)


class TokenCheck(grpc.ServerInterceptor):
    """Requires `authorization: Bearer <token>` on every method but Health's."""

    def __init__(self, token):
        self.expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation, details):
        if details.method.startswith(HEALTH_PREFIX):
            return continuation(details)
        given = dict(details.invocation_metadata).get("authorization", "")
        given = given.encode() if isinstance(given, str) else given
        if hmac.compare_digest(given, self.expected):
            return continuation(details)
        message = "missing authorization metadata" if not given else "wrong cluster token"

        def deny(request_or_iterator, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        handler = continuation(details)
        if handler is None:  # unknown method: still UNAUTHENTICATED, as our server answers
            return grpc.unary_unary_rpc_method_handler(deny)
        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(deny)
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(deny)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(deny)
        return grpc.unary_unary_rpc_method_handler(deny)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: an ephemeral port (printed)")
    arguments = parser.parse_args()

    token = os.environ.get("INTEROP_TOKEN")
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=64),
        interceptors=[TokenCheck(token)] if token else [],
        options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                 ("grpc.max_send_message_length", MAX_MESSAGE)])
    pb.echo_pb2_grpc.add_EchoServicer_to_server(Echo(), server)
    pb.health_pb2_grpc.add_HealthServicer_to_server(Health(), server)
    port = server.add_insecure_port(f"{arguments.host}:{arguments.port}")
    if port == 0:
        raise SystemExit(f"echo_server: cannot listen on {arguments.host}:{arguments.port}")
    server.start()
    print(f"LISTENING {port}", flush=True)

    stop = threading.Event()
    # A parent may start us with these blocked (Foundation's Process spawns from a libdispatch
    # thread and passes its signal mask on), and a blocked SIGTERM would make us unstoppable.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=1).wait()


if __name__ == "__main__":
    main()
