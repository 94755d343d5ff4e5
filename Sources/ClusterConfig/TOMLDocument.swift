// The only file that touches the CTOMLPlusPlus C API: it copies toml++'s tree into TOMLValue.
import CTOMLPlusPlus

/// A TOML document read by toml++ and copied into a ``TOMLTable`` with source positions.
public struct TOMLDocument: Sendable {
    /// The file path or name the document was read from (as errors and positions name it).
    public var source: String
    /// The root table.
    public var root: TOMLTable

    /// Reads and parses the file at `path`.
    /// - Throws: ``TOMLParseError`` (with toml++'s message and line:column) when the file cannot
    ///   be read or is not valid TOML 1.0.
    public init(contentsOfFile path: String) throws(TOMLParseError) {
        guard let document = ctoml_parse_file(path) else {
            throw TOMLParseError(source: path, position: TOMLPosition(line: 0, column: 0), message: "out of memory")
        }
        defer { ctoml_document_free(document) }
        try self.init(document, source: path)
    }

    /// Parses `text`; `sourceName` names it in positions and errors.
    /// - Throws: ``TOMLParseError`` when `text` is not valid TOML 1.0.
    public init(string text: String, sourceName: String = "<string>") throws(TOMLParseError) {
        var text = text
        let parsed = text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { ctoml_parse_string($0.baseAddress, $0.count, sourceName) }
        }
        guard let document = parsed else {
            throw TOMLParseError(source: sourceName, position: TOMLPosition(line: 0, column: 0), message: "out of memory")
        }
        defer { ctoml_document_free(document) }
        try self.init(document, source: sourceName)
    }

    private init(_ document: OpaquePointer, source: String) throws(TOMLParseError) {
        self.source = source
        guard let root = ctoml_document_root(document) else {
            let position = ctoml_document_error_position(document)
            throw TOMLParseError(source: source, position: TOMLPosition(position),
                                 message: ctoml_document_error(document).map { String(cString: $0) } ?? "invalid TOML")
        }
        guard case .table(let table) = Self.value(of: root) else {
            preconditionFailure("toml++ returned a root that is not a table")
        }
        self.root = table
    }

    private static func node(_ node: OpaquePointer) -> TOMLNode {
        TOMLNode(value(of: node), at: TOMLPosition(ctoml_node_position(node)))
    }

    private static func value(of node: OpaquePointer) -> TOMLValue {
        switch ctoml_node_type(node) {
        case CTOML_TABLE:
            let entries = (0 ..< ctoml_node_count(node)).map { index -> TOMLTable.Entry in
                var key: UnsafePointer<CChar>?
                var length = 0
                var keyPosition = ctoml_position()
                let value = ctoml_table_entry(node, index, &key, &length, &keyPosition)!
                return TOMLTable.Entry(key: text(key, length), keyPosition: TOMLPosition(keyPosition),
                                       node: Self.node(value))
            }
            return .table(TOMLTable(entries: entries))
        case CTOML_ARRAY:
            return .array((0 ..< ctoml_node_count(node)).map { Self.node(ctoml_array_element(node, $0)!) })
        case CTOML_STRING:
            var length = 0
            let bytes = ctoml_string_value(node, &length)
            return .string(text(bytes, length))
        case CTOML_INTEGER:
            return .integer(ctoml_integer_value(node))
        case CTOML_FLOAT:
            return .float(ctoml_float_value(node))
        case CTOML_BOOLEAN:
            return .boolean(ctoml_boolean_value(node))
        default:
            let parts = ctoml_datetime_value(node)
            let date = parts.has_date
                ? TOMLDateTime.Date(year: Int(parts.year), month: Int(parts.month), day: Int(parts.day)) : nil
            let time = parts.has_time
                ? TOMLDateTime.Time(hour: Int(parts.hour), minute: Int(parts.minute), second: Int(parts.second),
                                    nanosecond: Int(parts.nanosecond)) : nil
            return .dateTime(TOMLDateTime(date: date, time: time,
                                          offsetMinutes: parts.has_offset ? Int(parts.offset_minutes) : nil))
        }
    }

    /// UTF-8 bytes (toml++ validated them; they may hold NUL) as a String.
    private static func text(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> String {
        guard let pointer, length > 0 else { return "" }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}

/// A document that is not valid TOML (or could not be read), with toml++'s reason and position.
public struct TOMLParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file path or source name.
    public var source: String
    /// Where toml++ stopped.
    public var position: TOMLPosition
    /// toml++'s description.
    public var message: String

    /// Creates an error.
    public init(source: String, position: TOMLPosition, message: String) {
        self.source = source
        self.position = position
        self.message = message
    }

    /// `source:line:column: message`.
    public var description: String { "\(source):\(position): \(message)" }
}

extension TOMLPosition {
    init(_ position: ctoml_position) {
        self.init(line: Int(position.line), column: Int(position.column))
    }
}
