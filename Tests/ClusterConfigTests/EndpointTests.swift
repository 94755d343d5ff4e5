import NetworkAddress
import Testing

/// The one `HOST:PORT` parser (NetworkAddress), as cluster.toml, the CLI, the client and peers use it.
@Suite("Endpoint")
struct EndpointTests {
    @Test("well-formed addresses", arguments: [
        ("127.0.0.1:50051", "127.0.0.1", 50051), ("[::1]:7000", "::1", 7000), ("node-3.lan:1", "node-3.lan", 1),
        ("localhost:65535", "localhost", 65535),
    ])
    func parses(text: String, host: String, port: Int) throws {
        let endpoint = try Endpoint(text)
        #expect(endpoint.host == host && endpoint.port == port)
        #expect(endpoint.description == text)
    }

    @Test("each mistake has its reason", arguments: [
        ("localhost", Endpoint.ParseError.notHostPort, "is not HOST:PORT"),
        (":50051", .noHost, "has no host"),
        ("host:0", .port(1 ... 65535), "needs a port in 1...65535"),
        ("host:http", .port(1 ... 65535), "needs a port in 1...65535"),
        ("::1:80", .unbracketedIPv6, "needs brackets around an IPv6 host ([ADDRESS]:PORT)"),
        ("my host:80", .badHost, "has white space or a stray bracket in its host"),
    ])
    func rejects(text: String, error: Endpoint.ParseError, message: String) {
        #expect(throws: error) { try Endpoint(text) }
        #expect(error.description == message)
        #expect(Endpoint(parsing: text) == nil)
    }

    @Test func portRangesAndHostKinds() throws {
        #expect(try Endpoint("0.0.0.0:0", ports: 0 ... 65535).isWildcard)
        #expect(Endpoint(parsing: "0.0.0.0:0") == nil)
        #expect(try Endpoint("[::1]:1").isLoopback && Endpoint("127.0.0.2:1").isLoopback && !Endpoint("10.0.0.1:1").isLoopback)
    }
}
