#!/usr/bin/env bash
# Benchmarks our Swift gRPC server against a gRPC C++ server (Debian's libgrpc++-dev) serving the
# same proto (Protos/infinity/testing/v1/echo.proto, unary Echo/Get), with the same h2load load on
# the same machine: requests/s and p99 latency side by side with their ratio, then 4 MiB message
# throughput.
#
#   scripts/bench/bench_grpc.sh [--requests N] [--clients C] [--streams M] [--large-requests N]
#
# The Swift server is started with $SWIFT_ECHO_SERVER (a command line in which {port} is replaced
# by the port to listen on); default: the release build of `rpc-echo-server`, built here if
# missing. Everything the script builds or logs goes to $BENCH_DIR (default
# /tmp/infinity-bench-grpc), never into the repository. Installs with apt-get what is missing
# (needs root): libgrpc++-dev, protobuf-compiler-grpc, protobuf-compiler, nghttp2-client, g++.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bench_dir="${BENCH_DIR:-/tmp/infinity-bench-grpc}"
requests=200000 clients=10 streams=10 large_requests=400
while [ $# -gt 0 ]; do
    case "$1" in
        --requests) requests="$2"; shift 2 ;;
        --clients) clients="$2"; shift 2 ;;
        --streams) streams="$2"; shift 2 ;;
        --large-requests) large_requests="$2"; shift 2 ;;
        *) echo "bench_grpc: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
    esac
done
mkdir -p "$bench_dir"

# -- tools --------------------------------------------------------------------------------------
missing=()
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v grpc_cpp_plugin >/dev/null || missing+=(protobuf-compiler-grpc)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v g++ >/dev/null || missing+=(g++)
pkg-config --exists grpc++ 2>/dev/null || missing+=(libgrpc++-dev libprotobuf-dev pkg-config)
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench_grpc: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$bench_dir/apt.log"
fi

# -- the C++ server ------------------------------------------------------------------------------
# gRPC's callback API (the one gRPC recommends for performance) on the generated Echo service;
# Get honours status_code/status_message/delay_ms like the other Echo servers. Only Get is
# served: the benchmark calls nothing else.
cpp="$bench_dir/cpp"
mkdir -p "$cpp"
cat > "$cpp/echo_server.cc" <<'CPP'
#include <grpcpp/grpcpp.h>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include "infinity/testing/v1/echo.grpc.pb.h"

using infinity::testing::v1::Echo;
using infinity::testing::v1::EchoRequest;
using infinity::testing::v1::EchoResponse;

class EchoService final : public Echo::CallbackService {
    grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context, const EchoRequest* request,
                                  EchoResponse* response) override {
        auto* reactor = context->DefaultReactor();
        if (request->delay_ms() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(request->delay_ms()));
        if (request->status_code() != 0) {
            reactor->Finish(grpc::Status(static_cast<grpc::StatusCode>(request->status_code()), request->status_message()));
            return reactor;
        }
        response->set_text(request->text());
        response->set_payload(request->payload());
        reactor->Finish(grpc::Status::OK);
        return reactor;
    }
};

int main(int argc, char** argv) {
    std::string address = argc > 1 ? argv[1] : "127.0.0.1:0";
    EchoService service;
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
    builder.SetMaxReceiveMessageSize(16 << 20);
    builder.SetMaxSendMessageSize(16 << 20);
    builder.RegisterService(&service);
    auto server = builder.BuildAndStart();
    if (!server) { std::fprintf(stderr, "cannot listen on %s\n", address.c_str()); return 1; }
    std::printf("LISTENING %d\n", port);
    std::fflush(stdout);
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    int received;
    sigwait(&signals, &received);
    server->Shutdown();
    return 0;
}
CPP
if [ ! -x "$cpp/echo_server" ] || [ "$cpp/echo_server.cc" -nt "$cpp/echo_server" ] || [ "$root/Protos/infinity/testing/v1/echo.proto" -nt "$cpp/echo_server" ]; then
    echo "bench_grpc: building the gRPC C++ echo server (gRPC $(pkg-config --modversion grpc++))"
    protoc --proto_path="$root/Protos" --cpp_out="$cpp" --grpc_out="$cpp" \
        --plugin=protoc-gen-grpc="$(command -v grpc_cpp_plugin)" infinity/testing/v1/echo.proto
    g++ -O2 -std=c++17 -I"$cpp" -o "$cpp/echo_server" "$cpp/echo_server.cc" \
        "$cpp/infinity/testing/v1/echo.pb.cc" "$cpp/infinity/testing/v1/echo.grpc.pb.cc" \
        $(pkg-config --cflags --libs grpc++ protobuf) -lpthread
fi

# -- the Swift server ----------------------------------------------------------------------------
if [ -z "${SWIFT_ECHO_SERVER:-}" ]; then
    swift_bin="$root/.build/release/rpc-echo-server"
    if [ ! -x "$swift_bin" ]; then
        echo "bench_grpc: building rpc-echo-server (release)"
        (cd "$root" && swift build -c release --product rpc-echo-server >"$bench_dir/swift-build.log" 2>&1) || {
            echo "bench_grpc: swift build failed; see $bench_dir/swift-build.log" >&2; exit 1; }
    fi
    SWIFT_ECHO_SERVER="$swift_bin --listen 127.0.0.1:{port}"
fi

# -- helpers -------------------------------------------------------------------------------------
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME COMMAND...: starts a server on a free port, waits until it accepts connections, and
# sets $port.
start() {
    local name="$1"; shift
    port="$(free_port)"
    local command="${*//\{port\}/$port}"
    $command >"$bench_dir/$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "bench_grpc: $name did not listen on $port within 10 s; see $bench_dir/$name.log" >&2
    exit 1
}

# A gRPC-framed EchoRequest{text, payload of N bytes} as h2load's request body.
request_body() {
    python3 - "$1" "$2" <<'PY'
import struct, sys
size, path = int(sys.argv[1]), sys.argv[2]
def field(number, data):
    length, varint = len(data), b""
    while True:
        byte = length & 0x7F
        length >>= 7
        varint += bytes([byte | (0x80 if length else 0)])
        if not length:
            break
    return bytes([number << 3 | 2]) + varint + data
message = field(1, b"bench") + (field(2, b"\x5a" * size) if size else b"")
open(path, "wb").write(b"\0" + struct.pack(">I", len(message)) + message)
PY
}

# load NAME PORT BODY N C M: runs h2load; prints "req/s p99_ms failed".
load() {
    local name="$1" port="$2" body="$3" n="$4" c="$5" m="$6"
    local log="$bench_dir/$name.h2load.log" requests_log="$bench_dir/$name.requests.tsv"
    h2load -n "$n" -c "$c" -m "$m" -d "$body" --log-file="$requests_log" \
        -H 'content-type: application/grpc' -H 'te: trailers' \
        "http://127.0.0.1:$port/infinity.testing.v1.Echo/Get" >"$log" 2>&1 || {
        echo "bench_grpc: h2load failed against $name; see $log" >&2; exit 1; }
    python3 - "$log" "$requests_log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text).group(1))
done = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored", text)
# --log-file: start (us since the run began), status, duration (us) per request.
durations = sorted(int(line.split()[2]) for line in open(sys.argv[2]) if line.strip())
p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))] / 1000 if durations else float("nan")
print(f"{rps:.0f} {p99:.2f} {int(done.group(2)) + int(done.group(3))}")
PY
}

# -- runs ----------------------------------------------------------------------------------------
small="$bench_dir/small.bin"; large="$bench_dir/large.bin"
request_body 16 "$small"
request_body $((4 << 20)) "$large"

start cpp "$cpp/echo_server 127.0.0.1:{port}"; cpp_port=$port
start swift "$SWIFT_ECHO_SERVER"; swift_port=$port

# Warm-up (connections, allocators, JIT-free but caches), not measured.
load cpp-warmup "$cpp_port" "$small" 20000 "$clients" "$streams" >/dev/null
load swift-warmup "$swift_port" "$small" 20000 "$clients" "$streams" >/dev/null

read -r cpp_rps cpp_p99 cpp_failed < <(load cpp "$cpp_port" "$small" "$requests" "$clients" "$streams")
read -r swift_rps swift_p99 swift_failed < <(load swift "$swift_port" "$small" "$requests" "$clients" "$streams")
large_n="$large_requests"
read -r cpp_large_rps _ cpp_large_failed < <(load cpp-4mib "$cpp_port" "$large" "$large_n" 4 1)
read -r swift_large_rps _ swift_large_failed < <(load swift-4mib "$swift_port" "$large" "$large_n" 4 1)

echo
echo "unary Echo/Get, 16-byte payload: h2load -n $requests -c $clients -m $streams ($(nproc) cores)"
printf '%-22s %14s %14s %10s\n' "" "gRPC C++ $(pkg-config --modversion grpc++)" "Swift (ours)" "ratio"
printf '%-22s %14s %14s %10s\n' "requests/s" "$cpp_rps" "$swift_rps" "$(python3 -c "print(f'{$swift_rps / $cpp_rps:.2f}x')")"
printf '%-22s %14s %14s %10s\n' "p99 latency (ms)" "$cpp_p99" "$swift_p99" "$(python3 -c "print(f'{$swift_p99 / $cpp_p99:.2f}x')")"
printf '%-22s %14s %14s\n' "failed requests" "$cpp_failed" "$swift_failed"
echo
echo "unary Echo/Get, 4 MiB payload echoed: h2load -n $large_n -c 4 -m 1"
mib() { python3 -c "print(f'{$1 * 4:.0f}')"; }
printf '%-22s %14s %14s %10s\n' "MiB/s each way" "$(mib "$cpp_large_rps")" "$(mib "$swift_large_rps")" "$(python3 -c "print(f'{$swift_large_rps / $cpp_large_rps:.2f}x')")"
printf '%-22s %14s %14s\n' "failed requests" "$cpp_large_failed" "$swift_large_failed"
echo
echo "logs: $bench_dir"
