import Foundation

/// A JSON value as `JSONDecoder` hands it over, keeping booleans apart from numbers (which
/// `JSONSerialization` on Linux does not: it bridges `1` to `true`).
enum ConfigValue: Decodable, Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([ConfigValue])
    case object([String: ConfigValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([ConfigValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: ConfigValue].self))
        }
    }

    /// Parses a JSON document (JSON5 extras such as Python's `-Infinity` allowed) whose top
    /// level must be an object; `source` names the document in errors.
    static func parseObject(_ data: Data, source: String) throws -> [String: ConfigValue] {
        let root: ConfigValue
        do {
            let decoder = JSONDecoder()
            decoder.allowsJSON5 = true
            root = try decoder.decode(ConfigValue.self, from: data)
        } catch {
            throw ModelError("\(source): not valid JSON (\(error))")
        }
        guard case .object(let fields) = root else {
            throw ModelError("\(source): expected a JSON object at the top level")
        }
        return fields
    }

    /// The value as written in JSON, for error messages.
    var text: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .int(let value): "\(value)"
        case .double(let value): "\(value)"
        case .string(let value): "\"\(value)\""
        case .array(let values): "[" + values.map(\.text).joined(separator: ", ") + "]"
        case .object: "an object"
        }
    }

    /// The value as a number, when it is one.
    var number: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }

    /// The value as an integer, when it is a number without a fractional part.
    var integer: Int? {
        switch self {
        case .int(let value): value
        case .double(let value) where value == value.rounded() && abs(value) < 9e15: Int(value)
        default: nil
        }
    }
}
