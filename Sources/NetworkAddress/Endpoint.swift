/// A `HOST:PORT` address (`[ADDRESS]:PORT` for an IPv6 literal): the one parser of the addresses
/// users type (`--listen`, `--coordinator`, `cluster.toml`, peer addresses).
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// The host name or IP address (IPv6 without brackets).
    public var host: String
    /// The port.
    public var port: Int

    /// Creates an endpoint.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Why a text is not an endpoint; the description completes "address 'TEXT' ...".
    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// No colon, so no port.
        case notHostPort
        /// Nothing before the colon.
        case noHost
        /// The port is not a number in the range.
        case port(ClosedRange<Int>)
        /// An IPv6 literal without brackets (`::1:80` is ambiguous).
        case unbracketedIPv6
        /// White space or a stray bracket in the host.
        case badHost

        public var description: String {
            switch self {
            case .notHostPort: "is not HOST:PORT"
            case .noHost: "has no host"
            case .port(let range): "needs a port in \(range.lowerBound)...\(range.upperBound)"
            case .unbracketedIPv6: "needs brackets around an IPv6 host ([ADDRESS]:PORT)"
            case .badHost: "has white space or a stray bracket in its host"
            }
        }
    }

    /// Parses `HOST:PORT` or `[IPV6]:PORT` with a port in `ports`.
    public init(_ text: String, ports: ClosedRange<Int> = 1 ... 65535) throws(ParseError) {
        guard let colon = text.lastIndex(of: ":") else { throw .notHostPort }
        var host = text[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = host.dropFirst().dropLast()
        } else if host.contains(":") {
            throw .unbracketedIPv6
        }
        guard !host.isEmpty else { throw .noHost }
        guard !host.contains(where: { $0 == " " || $0 == "\t" || $0 == "[" || $0 == "]" }) else { throw .badHost }
        guard let port = Int(text[text.index(after: colon)...]), ports.contains(port) else { throw .port(ports) }
        self.init(host: String(host), port: port)
    }

    /// Parses as ``init(_:ports:)`` does; nil when malformed.
    public init?(parsing text: String, ports: ClosedRange<Int> = 1 ... 65535) {
        guard let endpoint = try? Endpoint(text, ports: ports) else { return nil }
        self = endpoint
    }

    /// `host:port`, with IPv6 hosts in brackets.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether the host is a loopback name or address (`localhost`, `127.x.x.x`, `::1`).
    public var isLoopback: Bool { host == "localhost" || host == "::1" || host.hasPrefix("127.") }

    /// Whether the host is a wildcard address that listens on every interface (`0.0.0.0`, `::`).
    public var isWildcard: Bool { host == "0.0.0.0" || host == "::" }
}
