/// Reads one TOML table of cluster.toml against its known keys, turning every problem into a
/// ``ClusterConfigurationError`` with the file, the position and the key path.
import NetworkAddress
struct TableReader {
    let source: String
    /// The table's key path (`coordinator`, `workers[1]`; empty for the root).
    let path: String
    let table: TOMLTable
    /// The table's own position (its header), for errors about keys it lacks.
    let position: TOMLPosition

    /// Reads `table`, rejecting any key outside `known`.
    init(_ table: TOMLTable, path: String, at position: TOMLPosition, source: String, known: [String]) throws(ClusterConfigurationError) {
        self.source = source
        self.path = path
        self.table = table
        self.position = position.line > 0 ? position : TOMLPosition(line: 1, column: 1)
        for entry in table.entries where !known.contains(entry.key) {
            throw ClusterConfigurationError(source: source, position: entry.keyPosition, keyPath: keyPath(entry.key),
                                            message: "unknown key (known: \(known.joined(separator: ", ")))")
        }
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func failure(_ key: String, _ message: String, at position: TOMLPosition? = nil) -> ClusterConfigurationError {
        ClusterConfigurationError(source: source, position: position ?? table[key]?.position ?? self.position,
                                  keyPath: keyPath(key), message: message)
    }

    func missing(_ key: String) -> ClusterConfigurationError {
        failure(key, "missing required key", at: position)
    }

    private func typeFailure(_ key: String, _ node: TOMLNode, expected: String) -> ClusterConfigurationError {
        failure(key, "must be \(expected), got \(node.value.typeName)", at: node.position)
    }

    /// A sub-table (nil when absent).
    func table(_ key: String) throws(ClusterConfigurationError) -> (TOMLTable, TOMLPosition)? {
        guard let node = table[key] else { return nil }
        guard case .table(let value) = node.value else { throw typeFailure(key, node, expected: "a table") }
        return (value, node.position)
    }

    /// An array of tables (nil when absent), with each table's position.
    func tables(_ key: String) throws(ClusterConfigurationError) -> [(TOMLTable, TOMLPosition)]? {
        guard let node = table[key] else { return nil }
        guard case .array(let elements) = node.value else { throw typeFailure(key, node, expected: "an array of tables") }
        var tables: [(TOMLTable, TOMLPosition)] = []
        for (index, element) in elements.enumerated() {
            guard case .table(let value) = element.value else {
                throw failure("\(key)[\(index)]", "must be a table, got \(element.value.typeName)", at: element.position)
            }
            tables.append((value, element.position))
        }
        return tables
    }

    /// A string (nil when absent).
    func string(_ key: String) throws(ClusterConfigurationError) -> String? {
        guard let node = table[key] else { return nil }
        guard case .string(let value) = node.value else { throw typeFailure(key, node, expected: "a string") }
        return value
    }

    /// A string that must be present.
    func requiredString(_ key: String) throws(ClusterConfigurationError) -> String {
        guard let value = try string(key) else { throw missing(key) }
        return value
    }

    /// One of `choices` (nil when absent).
    func choice(_ key: String, from choices: [String]) throws(ClusterConfigurationError) -> String? {
        guard let value = try string(key) else { return nil }
        guard choices.contains(value) else {
            throw failure(key, "must be one of \(choices.map { "\"\($0)\"" }.joined(separator: ", ")), got \"\(value)\"")
        }
        return value
    }

    /// An integer within `range` (nil when absent).
    func integer(_ key: String, in range: ClosedRange<Int>) throws(ClusterConfigurationError) -> Int? {
        guard let node = table[key] else { return nil }
        guard case .integer(let value) = node.value else { throw typeFailure(key, node, expected: "an integer") }
        guard let number = Int(exactly: value), range.contains(number) else {
            throw failure(key, "must be in \(describe(range)), got \(value)", at: node.position)
        }
        return number
    }

    /// A finite number (float or integer) within `range` (nil when absent).
    func number(_ key: String, in range: ClosedRange<Double>) throws(ClusterConfigurationError) -> Double? {
        guard let node = table[key] else { return nil }
        let value: Double
        switch node.value {
        case .float(let float): value = float
        case .integer(let integer): value = Double(integer)
        default: throw typeFailure(key, node, expected: "a number")
        }
        guard value.isFinite, range.contains(value) else {
            throw failure(key, "must be a number in \(range.lowerBound)...\(range.upperBound), got \(value)", at: node.position)
        }
        return value
    }

    /// A boolean (nil when absent).
    func boolean(_ key: String) throws(ClusterConfigurationError) -> Bool? {
        guard let node = table[key] else { return nil }
        guard case .boolean(let value) = node.value else { throw typeFailure(key, node, expected: "a boolean") }
        return value
    }

    /// An endpoint `HOST:PORT` (nil when absent).
    func endpoint(_ key: String) throws(ClusterConfigurationError) -> Endpoint? {
        guard let text = try string(key) else { return nil }
        guard let endpoint = Endpoint(parsing: text) else {
            throw failure(key, "must be HOST:PORT (IPv6 as [ADDRESS]:PORT) with a port in 1...65535, got \"\(text)\"")
        }
        return endpoint
    }

    private func describe(_ range: ClosedRange<Int>) -> String {
        range.upperBound == Int.max ? "\(range.lowerBound) or more" : "\(range.lowerBound)...\(range.upperBound)"
    }
}
