/// A gRPC status code, as carried in the `grpc-status` trailer.
///
/// The raw values are the codes of the gRPC specification (`doc/statuscodes.md`), so they can be
/// sent and compared with any stock gRPC implementation.
public enum StatusCode: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Not an error: the call succeeded.
    case ok = 0
    /// The call was cancelled, typically by the caller.
    case cancelled = 1
    /// An error with no better code, e.g. a handler threw an error that is not an ``RPCError``.
    case unknown = 2
    /// The client gave an invalid argument.
    case invalidArgument = 3
    /// The deadline passed before the call completed.
    case deadlineExceeded = 4
    /// A requested entity was not found.
    case notFound = 5
    /// The entity the client tried to create already exists.
    case alreadyExists = 6
    /// The caller may not run this operation.
    case permissionDenied = 7
    /// A resource (e.g. a message size limit) was exhausted.
    case resourceExhausted = 8
    /// The system is not in the state the operation requires.
    case failedPrecondition = 9
    /// The operation was aborted, typically because of a concurrency conflict.
    case aborted = 10
    /// The operation went past the valid range.
    case outOfRange = 11
    /// The method is not implemented or not supported by this server.
    case unimplemented = 12
    /// An invariant of the implementation or the protocol was broken.
    case internalError = 13
    /// The service is currently unavailable; retrying may succeed.
    case unavailable = 14
    /// Unrecoverable data loss or corruption.
    case dataLoss = 15
    /// The request has no valid authentication credentials.
    case unauthenticated = 16

    /// The upper-case name used by the gRPC specification, e.g. `DEADLINE_EXCEEDED`.
    public var description: String {
        switch self {
        case .ok: "OK"
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internalError: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        }
    }

    /// The code for a `grpc-status` value; values outside 0...16 are `unknown`, as the
    /// specification asks of receivers.
    public init(wireValue: Int) {
        self = StatusCode(rawValue: wireValue) ?? .unknown
    }

    /// The gRPC code for an HTTP status of a response that is not a gRPC response, following
    /// gRPC's `doc/http-grpc-status-mapping.md`.
    public init(httpStatus: Int) {
        switch httpStatus {
        case 400: self = .internalError
        case 401: self = .unauthenticated
        case 403: self = .permissionDenied
        case 404: self = .unimplemented
        case 429, 502, 503, 504: self = .unavailable
        default: self = .unknown
        }
    }
}
