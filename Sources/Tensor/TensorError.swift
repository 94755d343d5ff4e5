/// An error raised by a backend or a tensor operation: a failed allocation, a lost device,
/// or input that does not fit the operation (named in `message`).
public struct TensorError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What went wrong, naming the operation and the offending value.
    public let message: String

    /// Creates an error with a message that names the problem.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
