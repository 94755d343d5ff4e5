/// Why a cluster.toml was rejected: where (`file:line:column`), which key, and what is wrong.
public struct ClusterConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The toml file.
    public var source: String
    /// The position of the offending value, key or table.
    public var position: TOMLPosition
    /// The key path (`workers[1].port`); empty for a TOML syntax error.
    public var keyPath: String
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(source: String, position: TOMLPosition, keyPath: String, message: String) {
        self.source = source
        self.position = position
        self.keyPath = keyPath
        self.message = message
    }

    /// `file:line:column: key.path: message` (`file:line:column: message` for syntax errors).
    public var description: String {
        keyPath.isEmpty ? "\(source):\(position): \(message)" : "\(source):\(position): \(keyPath): \(message)"
    }
}
