/// gRPC metadata: ordered name/value pairs sent as HTTP/2 headers or trailers.
///
/// Names are lower-case ASCII. A name ending in `-bin` carries bytes, which travel base64-encoded;
/// every other name carries printable ASCII text. Names may repeat; order is kept.
public struct Metadata: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// One name/value pair.
    public struct Entry: Sendable, Hashable {
        /// The lower-case name.
        public var name: String
        /// The value.
        public var value: MetadataValue
    }

    private var entries: [Entry] = []

    /// Empty metadata.
    public init() {}

    /// Metadata from text pairs (`-bin` names get the UTF-8 bytes of the text).
    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { add(name, value) }
    }

    /// The number of pairs.
    public var count: Int { entries.count }
    /// Whether there are no pairs.
    public var isEmpty: Bool { entries.isEmpty }

    /// Appends a text value; the name is lower-cased. For a `-bin` name the text's UTF-8 bytes
    /// become a binary value.
    public mutating func add(_ name: String, _ value: String) {
        let name = name.lowercased()
        if name.hasSuffix("-bin") {
            entries.append(Entry(name: name, value: .binary(Array(value.utf8))))
        } else {
            entries.append(Entry(name: name, value: .string(value)))
        }
    }

    /// Appends a binary value under a name that must end in `-bin` (one that does not gets the
    /// suffix added, so the bytes cannot be sent as invalid header text).
    public mutating func add(_ name: String, binary value: [UInt8]) {
        var name = name.lowercased()
        if !name.hasSuffix("-bin") { name += "-bin" }
        entries.append(Entry(name: name, value: .binary(value)))
    }

    /// Replaces all values of a name with one text value.
    public mutating func replace(_ name: String, _ value: String) {
        removeAll(named: name)
        add(name, value)
    }

    /// Removes every pair with this name.
    public mutating func removeAll(named name: String) {
        let name = name.lowercased()
        entries.removeAll { $0.name == name }
    }

    /// The text values of a name, in order (binary values are skipped).
    public func strings(for name: String) -> [String] {
        let name = name.lowercased()
        return entries.compactMap { entry in
            guard entry.name == name, case .string(let text) = entry.value else { return nil }
            return text
        }
    }

    /// The binary values of a name, in order.
    public func binaries(for name: String) -> [[UInt8]] {
        let name = name.lowercased()
        return entries.compactMap { entry in
            guard entry.name == name, case .binary(let bytes) = entry.value else { return nil }
            return bytes
        }
    }

    /// The first text value of a name.
    public subscript(name: String) -> String? {
        strings(for: name).first
    }

    /// Appends all pairs of another metadata.
    public mutating func append(contentsOf other: Metadata) {
        entries.append(contentsOf: other.entries)
    }

    /// Iterates the pairs in order.
    public func makeIterator() -> IndexingIterator<[Entry]> {
        entries.makeIterator()
    }

    /// `[name: value, ...]`.
    public var description: String {
        "[" + entries.map { "\($0.name): \($0.value)" }.joined(separator: ", ") + "]"
    }

    /// Whether a header name is reserved for the protocol and never surfaces as metadata:
    /// pseudo-headers, `content-type`, `te`, `user-agent`-free transport headers and `grpc-*`.
    static func isReserved(_ name: String) -> Bool {
        if name.hasPrefix(":") || name.hasPrefix("grpc-") { return true }
        switch name {
        case "content-type", "te", "content-length", "connection", "host", "keep-alive",
             "transfer-encoding", "upgrade", "proxy-connection":
            return true
        default:
            return false
        }
    }

    /// Adds a received header as metadata, decoding `-bin` values; a malformed base64 value is
    /// dropped rather than failing the call, as gRPC implementations do.
    mutating func addWire(name: String, value: String) {
        if name.hasSuffix("-bin") {
            guard let bytes = Base64.decode(value) else { return }
            entries.append(Entry(name: name, value: .binary(bytes)))
        } else {
            entries.append(Entry(name: name, value: .string(value)))
        }
    }

    /// Why the first pair that cannot travel as an HTTP/2 header cannot, or nil if all can:
    /// names must be lower-case `[0-9a-z_.-]`, text values printable ASCII.
    var firstInvalidEntry: String? {
        for entry in entries {
            if !Metadata.isValidName(entry.name) {
                return "metadata name '\(entry.name)' is not lower-case [0-9a-z_.-]"
            }
            if case .string(let text) = entry.value, !Metadata.isValidText(text) {
                return "metadata value of '\(entry.name)' is not printable ASCII (use a -bin name for binary or Unicode values)"
            }
        }
        return nil
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }

    static func isValidText(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }
    }

    /// The pairs as header fields, `-bin` values base64-encoded (unpadded, as gRPC recommends).
    /// Pairs that cannot travel as headers are skipped here (clients reject them earlier with
    /// an error; a server cannot fail a status it is already sending).
    func appendWire(to fields: inout [HeaderField]) {
        for entry in entries where !Metadata.isReserved(entry.name) && Metadata.isValidName(entry.name) {
            switch entry.value {
            case .string(let text): if Metadata.isValidText(text) { fields.append(HeaderField(entry.name, text)) }
            case .binary(let bytes): fields.append(HeaderField(entry.name, Base64.encode(bytes)))
            }
        }
    }
}

/// One metadata value: text, or bytes for `-bin` names.
public enum MetadataValue: Sendable, Hashable, CustomStringConvertible {
    /// A text value (printable ASCII on the wire).
    case string(String)
    /// A binary value (a `-bin` name; base64 on the wire).
    case binary([UInt8])

    /// The text, or `base64(...)` for bytes.
    public var description: String {
        switch self {
        case .string(let text): text
        case .binary(let bytes): "base64(\(Base64.encode(bytes)))"
        }
    }
}
