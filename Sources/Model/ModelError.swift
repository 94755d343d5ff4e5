/// An error loading or running a model: a bad file, an unsupported configuration value, or
/// inputs that do not fit the model. The message names the file, field or value at fault.
public struct ModelError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What went wrong.
    public let message: String

    /// Creates an error with a message that names the problem.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
