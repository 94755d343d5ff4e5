import RPC
import Synchronization

/// `infinity.testing.v1.Echo` in Swift: the service our server runs in the interop and bad-input
/// tests and in the gRPC benchmark (`rpc-echo-server`). It behaves as Protos/infinity/testing/v1/echo.proto documents, exactly like
/// scripts/interop/echo_server.py, so the grpcio client's checks hold against either server.
public final class EchoService: RPCService {
    public static let name = "infinity.testing.v1.Echo"
    public static let get = MethodDescriptor(service: name, method: "Get")
    public static let expand = MethodDescriptor(service: name, method: "Expand")
    public static let collect = MethodDescriptor(service: name, method: "Collect")
    public static let update = MethodDescriptor(service: name, method: "Update")

    /// Calls that ended (cancelled or past their deadline) while their handler waited out
    /// delay_ms: what `Get("__cancelled__")` reports.
    private let cancelled = Mutex(0)

    /// A service with no calls cancelled yet.
    public init() {}

    public var serviceName: String { Self.name }

    public var methods: [ServerMethod] {
        [
            .unary("Get") { [self] (request: EchoRequest, context: ServerCallContext) async throws -> EchoResponse in
                echoMetadata(context)
                if request.text == "__cancelled__" {
                    return EchoResponse(text: String(cancelled.withLock { $0 }))
                }
                try await delay(request)
                try failIfAsked(request)
                return EchoResponse(text: request.text, payload: request.payload)
            },
            .serverStreaming("Expand") { [self] (request: EchoRequest, writer: ResponseWriter<EchoResponse>, context: ServerCallContext) in
                echoMetadata(context)
                try failIfAsked(request)
                for index in 0 ..< max(request.repeatCount, 0) {
                    try await delay(request)
                    try await writer.write(EchoResponse(text: request.text, payload: request.payload, index: index))
                }
            },
            .clientStreaming("Collect") { [self] (requests: RequestStream<EchoRequest>, context: ServerCallContext) async throws -> EchoResponse in
                echoMetadata(context)
                var texts: [String] = []
                var payload: [UInt8] = []
                var first: EchoRequest?
                for try await request in requests {
                    if first == nil {
                        first = request
                        try failIfAsked(request)
                    }
                    texts.append(request.text)
                    payload += request.payload
                }
                if let first { try await delay(first) }
                return EchoResponse(text: texts.joined(separator: " "), payload: payload, index: Int32(texts.count))
            },
            .bidirectional("Update") { [self] (requests: RequestStream<EchoRequest>, writer: ResponseWriter<EchoResponse>, context: ServerCallContext) in
                echoMetadata(context)
                var index: Int32 = 0
                for try await request in requests {
                    try failIfAsked(request)
                    try await delay(request)
                    try await writer.write(EchoResponse(text: request.text, payload: request.payload, index: index))
                    index += 1
                }
            },
        ]
    }

    /// Echoes `x-echo-*` request metadata as headers, and as trailers renamed `x-echo-trailer-*`.
    private func echoMetadata(_ context: ServerCallContext) {
        var initial = Metadata()
        var trailing = Metadata()
        for entry in context.requestMetadata where entry.name.hasPrefix("x-echo-") {
            let trailerName = "x-echo-trailer-" + entry.name.dropFirst("x-echo-".count)
            switch entry.value {
            case .string(let text):
                initial.add(entry.name, text)
                trailing.add(trailerName, text)
            case .binary(let bytes):
                initial.add(entry.name, binary: bytes)
                trailing.add(trailerName, binary: bytes)
            }
        }
        context.initialMetadata = initial
        context.trailingMetadata = trailing
    }

    /// Throws the status the request asks for, if any.
    private func failIfAsked(_ request: EchoRequest) throws(RPCError) {
        guard request.statusCode != 0 else { return }
        guard let code = StatusCode(rawValue: Int(request.statusCode)) else {
            throw RPCError(code: .invalidArgument, message: "status_code \(request.statusCode) is not 1...16")
        }
        throw RPCError(code: code, message: request.statusMessage)
    }

    /// Sleeps delay_ms; a call that ends meanwhile cancels the handler's task, which is counted.
    private func delay(_ request: EchoRequest) async throws {
        guard request.delayMilliseconds > 0 else { return }
        do {
            try await Task.sleep(for: .milliseconds(Int(request.delayMilliseconds)))
        } catch {
            cancelled.withLock { $0 += 1 }
            throw error
        }
    }
}
