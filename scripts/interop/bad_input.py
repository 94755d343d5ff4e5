"""Bad-input checks for a gRPC server (ours, or echo_server.py as a reference): each case sends
something malformed over a raw TCP socket, checks the server's answer (the right gRPC status, or
that it closed that one connection), then checks that a good grpcio client is served right after.

    .venv-interop/bin/python scripts/interop/bad_input.py HOST:PORT [--cases a,b] [--list]

Uses INTEROP_TOKEN from the environment like echo_client.py, so the malformed requests get past
authentication and reach the code under test. Prints one line per case and a summary; exit
status 0 when every case passed.
"""

import argparse
import os
import random
import socket
import struct
import sys
import time
import traceback

import grpc
import h2.config
import h2.connection
import h2.events
import h2.settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stubs  # noqa: E402

pb = stubs.load()
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
GET = "/infinity.testing.v1.Echo/Get"
EXPAND = "/infinity.testing.v1.Echo/Expand"


class CaseFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CaseFailed(message)


def frame(kind, flags, stream, payload):
    """One raw HTTP/2 frame."""
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def send_body(connection, stream, body):
    """Queues `body` on `stream` in frames the peer accepts, ending the stream (the bodies sent
    here fit the peer's initial flow-control window)."""
    size = connection.max_outbound_frame_size
    for offset in range(0, max(len(body), 1), size):
        connection.send_data(stream, body[offset:offset + size], end_stream=offset + size >= len(body))


def grpc_message(body, length=None):
    """A gRPC length-prefixed message; `length` overrides the prefix."""
    return b"\0" + struct.pack(">I", len(body) if length is None else length) + body


class Server:
    def __init__(self, host, port, token):
        self.host, self.port, self.token = host, port, token

    def connect(self):
        sock = socket.create_connection((self.host, self.port), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def closes(self, sock, within=5.0):
        """True when the server closes `sock` within `within` seconds (bytes it sends first, such
        as a GOAWAY, are read and ignored)."""
        deadline = time.monotonic() + within
        try:
            while time.monotonic() < deadline:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                if not sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        return False

    def request_headers(self, path, content_type="application/grpc", extra=()):
        headers = [(":method", "POST"), (":scheme", "http"), (":path", path),
                   (":authority", f"{self.host}:{self.port}"), ("content-type", content_type), ("te", "trailers")]
        if self.token:
            headers.append(("authorization", f"Bearer {self.token}"))
        return headers + list(extra)

    def h2_call(self, headers, body, window=None, timeout=10.0):
        """Sends one request with h2 and returns (response headers, trailers, data, reset code),
        all merged over the stream's lifetime; reset code is None unless RST_STREAM arrived."""
        sock = self.connect()
        connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        connection.initiate_connection()
        if window:
            connection.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        stream = connection.get_next_available_stream_id()
        connection.send_headers(stream, headers, end_stream=body is None)
        if body is not None:
            send_body(connection, stream, body)
        sock.sendall(connection.data_to_send())
        response, trailers, data, reset = {}, {}, b"", None
        deadline = time.monotonic() + timeout
        ended = False
        try:
            while not ended and time.monotonic() < deadline:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(65536)
                if not chunk:
                    break
                for event in connection.receive_data(chunk):
                    if isinstance(event, h2.events.ResponseReceived):
                        response.update(dict(event.headers))
                    elif isinstance(event, h2.events.TrailersReceived):
                        trailers.update(dict(event.headers))
                    elif isinstance(event, h2.events.DataReceived):
                        data += event.data
                        connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamReset):
                        reset = event.error_code
                        ended = True
                    elif isinstance(event, (h2.events.StreamEnded, h2.events.ConnectionTerminated)):
                        ended = True
                sock.sendall(connection.data_to_send())
        except socket.timeout:
            pass
        finally:
            sock.close()
        return response, trailers, data, reset

    def status_of(self, headers, body):
        """The grpc-status (int) a request gets, from trailers or a trailers-only response."""
        response, trailers, _, reset = self.h2_call(headers, body)
        merged = {**response, **trailers}
        expect("grpc-status" in merged, f"no grpc-status (headers {response}, trailers {trailers}, reset {reset})")
        return int(merged["grpc-status"]), merged.get("grpc-message", ""), response


class Cases:
    def __init__(self, server):
        self.server = server

    def case_garbage(self):
        sock = self.server.connect()
        sock.sendall(random.Random(7).randbytes(4096))
        expect(self.server.closes(sock), "the server kept a connection that sent 4 KiB of garbage open")
        sock.close()

    def case_http1_request(self):
        sock = self.server.connect()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n")
        expect(self.server.closes(sock), "the server kept an HTTP/1.1 connection open")
        sock.close()

    def case_truncated_frame(self):
        # A HEADERS frame announcing 200 bytes, only 10 sent: the server must keep serving others
        # while this connection waits, and survive the connection closing mid-frame.
        sock = self.server.connect()
        sock.sendall(PREFACE + frame(0x4, 0, 0, b"") + struct.pack(">I", 200)[1:] + bytes([0x1, 0x4]) +
                     struct.pack(">I", 1) + b"\x82" * 10)
        self.good_client("while a truncated frame is pending")
        sock.close()

    def case_truncated_message(self):
        # A complete HTTP/2 stream whose gRPC message is cut short: the prefix promises 100 bytes,
        # 10 arrive, then END_STREAM.
        status, message, _ = self.server.status_of(self.server.request_headers(GET), grpc_message(b"\x0a" * 10, length=100))
        expect(status in (13, 3), f"grpc-status {status} ({message!r}), expected INTERNAL (13) or INVALID_ARGUMENT (3)")

    def case_oversized_length_prefix(self):
        status, message, _ = self.server.status_of(self.server.request_headers(GET), grpc_message(b"\x0a\x01x", length=0xFFFFFFFF))
        expect(status == 8, f"grpc-status {status} ({message!r}), expected RESOURCE_EXHAUSTED (8)")

    def case_invalid_protobuf(self):
        # Field 1 (text) as a length-delimited field claiming 100 bytes with 2 present.
        status, message, _ = self.server.status_of(self.server.request_headers(GET), grpc_message(b"\x0a\x64ab"))
        expect(status in (13, 3), f"grpc-status {status} ({message!r}), expected INTERNAL (13) or INVALID_ARGUMENT (3)")

    def case_wrong_content_type(self):
        response, trailers, _, reset = self.server.h2_call(
            self.server.request_headers(GET, content_type="text/plain"), grpc_message(b""))
        merged = {**response, **trailers}
        # The gRPC spec: HTTP 415; a gRPC error status or a stream reset is an acceptable refusal.
        refused = (response.get(":status") == "415" or merged.get("grpc-status", "0") != "0" or reset is not None)
        expect(refused, f"a text/plain request was served: headers {response}, trailers {trailers}")

    def case_bad_hpack(self):
        sock = self.server.connect()
        # A HEADERS frame whose block indexes a dynamic-table entry that does not exist.
        sock.sendall(PREFACE + frame(0x4, 0, 0, b"") + frame(0x1, 0x4 | 0x1, 1, b"\xff\xff\xff\x7f"))
        expect(self.server.closes(sock), "the server kept a connection with an undecodable header block open")
        sock.close()

    def case_stops_reading(self):
        # Asks for ~64 MiB of responses with huge flow-control windows, then never reads: only TCP
        # backpressure stops the server, which must go on serving other connections.
        sock = self.server.connect()
        connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        connection.initiate_connection()
        connection.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
        connection.increment_flow_control_window(2**31 - 1 - 65535)
        connection.send_headers(1, self.server.request_headers(EXPAND))
        # The request fits the server's initial 64 KiB window; the responses add up to ~60 MiB.
        request = pb.echo_pb2.EchoRequest(text="flood", payload=b"x" * 60000, repeat=1000)
        send_body(connection, 1, grpc_message(request.SerializeToString()))
        sock.sendall(connection.data_to_send())
        time.sleep(1.0)  # let the server fill the socket buffers
        self.good_client("while a client stops reading", timeout=5)
        sock.close()

    def case_many_bad_connections(self):
        # 50 connections at once that send a preface and then nothing, all left open.
        socks = [self.server.connect() for _ in range(50)]
        for sock in socks:
            sock.sendall(PREFACE)
        self.good_client("with 50 idle connections open")
        for sock in socks:
            sock.close()

    def good_client(self, when="right after", timeout=10):
        """A fresh grpcio channel's unary call succeeds."""
        target = f"{self.server.host}:{self.server.port}"
        metadata = [("authorization", f"Bearer {self.server.token}")] if self.server.token else []
        with grpc.insecure_channel(target) as channel:
            stub = pb.echo_pb2_grpc.EchoStub(channel)
            try:
                response = stub.Get(pb.echo_pb2.EchoRequest(text="good"), metadata=metadata, timeout=timeout)
            except grpc.RpcError as error:
                raise CaseFailed(f"a good client was not served {when}: {error.code().name} {error.details()!r}")
            expect(response.text == "good", f"a good client got {response!r} {when}")


ALL = [name[len("case_"):] for name in Cases.__dict__ if name.startswith("case_")]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", nargs="?", help="HOST:PORT of the server")
    parser.add_argument("--cases", default=",".join(ALL), help="comma-separated cases (default: all)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    arguments = parser.parse_args()
    if arguments.list:
        print("\n".join(ALL))
        return 0
    if not arguments.target:
        parser.error("HOST:PORT is required")
    host, _, port = arguments.target.rpartition(":")
    selected = [name.strip() for name in arguments.cases.split(",") if name.strip()]
    unknown = [name for name in selected if name not in ALL]
    if unknown:
        parser.error(f"unknown cases {unknown}; known: {', '.join(ALL)}")

    cases = Cases(Server(host, int(port), os.environ.get("INTEROP_TOKEN")))
    passed = failed = 0
    for name in selected:
        start = time.monotonic()
        try:
            getattr(cases, "case_" + name)()
            cases.good_client()
            passed += 1
            print(f"PASS {name} ({(time.monotonic() - start) * 1000:.0f} ms)", flush=True)
        except CaseFailed as failure:
            failed += 1
            print(f"FAIL {name}: {failure}", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {name}: unexpected error\n{traceback.format_exc()}", flush=True)
    print(f"bad-input summary against {arguments.target}: {passed} of {len(selected)} cases passed"
          f" ({failed} failing)", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
