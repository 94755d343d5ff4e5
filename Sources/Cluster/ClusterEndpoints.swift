import ClusterWire
import NetworkAddress
import RPC
import Synchronization

/// The cluster's RPC methods.
public enum WorkerMethods {
    public static let service = "infinity.v1.Worker"
    public static let assignClips = MethodDescriptor(service: service, method: "AssignClips")
    public static let step = MethodDescriptor(service: service, method: "Step")
    public static let getCheckpoint = MethodDescriptor(service: service, method: "GetCheckpoint")
    public static let putCheckpoint = MethodDescriptor(service: service, method: "PutCheckpoint")
    public static let pushContext = MethodDescriptor(service: service, method: "PushContext")
    public static let abortJob = MethodDescriptor(service: service, method: "AbortJob")
    public static let dropJob = MethodDescriptor(service: service, method: "DropJob")
}

/// The coordinator's RPC methods (`infinity.v1.Coordinator`).
public enum CoordinatorMethods {
    public static let service = "infinity.v1.Coordinator"
    public static let submitJob = MethodDescriptor(service: service, method: "SubmitJob")
    public static let cancelJob = MethodDescriptor(service: service, method: "CancelJob")
    public static let getJob = MethodDescriptor(service: service, method: "GetJob")
    public static let listJobs = MethodDescriptor(service: service, method: "ListJobs")
    public static let getJobResult = MethodDescriptor(service: service, method: "GetJobResult")
    public static let listWorkers = MethodDescriptor(service: service, method: "ListWorkers")
    public static let registerWorker = MethodDescriptor(service: service, method: "RegisterWorker")
    public static let heartbeat = MethodDescriptor(service: service, method: "Heartbeat")
}

/// Message size limit of cluster connections: context parts and checkpoints of real videos run
/// to hundreds of megabytes.
public let clusterMessageLimit = 1 << 30

/// `HOST:PORT` (or `[v6]:PORT`) split into its parts.
public func parseAddress(_ text: String) throws(RPCError) -> (host: String, port: Int) {
    do {
        let endpoint = try Endpoint(text)
        return (endpoint.host, endpoint.port)
    } catch {
        throw RPCError(code: .invalidArgument, message: "address '\(text)' \(error)")
    }
}

/// One channel per peer address, made on first use and shared by every call to that peer
/// (HTTP/2 multiplexes them), all carrying the cluster token.
public final class PeerChannels: Sendable {
    private let token: String?
    private let channels = Mutex<[String: RPCChannel]>([:])

    /// Channels authenticating with `token`.
    public init(token: String?) {
        self.token = token
    }

    /// The channel to `address`.
    public func channel(_ address: String) throws(RPCError) -> RPCChannel {
        let (host, port) = try parseAddress(address)
        return channels.withLock { channels in
            if let channel = channels[address] { return channel }
            let configuration = ChannelConfiguration(maxReceiveMessageBytes: clusterMessageLimit, authToken: token,
                                                     connectTimeout: .seconds(5),
                                                     backoff: .init(initial: .milliseconds(100), maximum: .seconds(2)))
            let channel = RPCChannel(host: host, port: port, configuration: configuration)
            channels[address] = channel
            return channel
        }
    }

    /// Closes and forgets the channel to `address` (its peer failed).
    public func drop(_ address: String) async {
        let channel = channels.withLock { $0.removeValue(forKey: address) }
        await channel?.close()
    }

    /// Closes every channel.
    public func closeAll() async {
        let all = channels.withLock { channels in
            defer { channels.removeAll() }
            return Array(channels.values)
        }
        for channel in all { await channel.close() }
    }
}

/// A converted error for an RPC status: RPC errors as they are, anything else INTERNAL with its
/// description (or a cancellation as CANCELLED).
func rpcError(_ error: any Error, context: String) -> RPCError {
    if let error = error as? RPCError { return error }
    if error is CancellationError { return RPCError(code: .cancelled, message: "\(context): cancelled") }
    return RPCError(code: .internalError, message: "\(context): \(error)")
}
