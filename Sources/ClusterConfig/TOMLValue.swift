/// A 1-based line and column in a TOML source.
public struct TOMLPosition: Sendable, Hashable, CustomStringConvertible {
    /// The line (1-based; 0 when unknown).
    public var line: Int
    /// The column (1-based; 0 when unknown).
    public var column: Int

    /// Creates a position.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// `line:column`.
    public var description: String { "\(line):\(column)" }
}

/// A parsed TOML value with the position where it starts.
public struct TOMLNode: Sendable, Hashable {
    /// The value.
    public var value: TOMLValue
    /// Where the value starts (for a table opened by a `[header]`, the header).
    public var position: TOMLPosition

    /// Creates a node.
    public init(_ value: TOMLValue, at position: TOMLPosition) {
        self.value = value
        self.position = position
    }
}

/// A TOML value: every type of TOML 1.0.
public enum TOMLValue: Sendable, Hashable {
    /// A string.
    case string(String)
    /// A 64-bit integer.
    case integer(Int64)
    /// A float (`inf` and `nan` included).
    case float(Double)
    /// A boolean.
    case boolean(Bool)
    /// An offset or local date-time, a local date or a local time.
    case dateTime(TOMLDateTime)
    /// An array (its elements may differ in type).
    case array([TOMLNode])
    /// A table (standard, inline, or an element of an array of tables).
    case table(TOMLTable)

    /// The TOML name of the value's type, for messages: `string`, `integer`, `float`, `boolean`,
    /// `offset date-time`, `local date-time`, `local date`, `local time`, `array` or `table`.
    public var typeName: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .boolean: "boolean"
        case .dateTime(let value): value.kindName
        case .array: "array"
        case .table: "table"
        }
    }
}

/// A TOML table: keys with their values, in toml++'s order (sorted by key).
public struct TOMLTable: Sendable, Hashable {
    /// One key and its value.
    public struct Entry: Sendable, Hashable {
        /// The key (unquoted, escapes resolved).
        public var key: String
        /// Where the key is written (for a dotted key, its own part).
        public var keyPosition: TOMLPosition
        /// The value.
        public var node: TOMLNode

        /// Creates an entry.
        public init(key: String, keyPosition: TOMLPosition, node: TOMLNode) {
            self.key = key
            self.keyPosition = keyPosition
            self.node = node
        }
    }

    /// The entries, each key once.
    public var entries: [Entry]

    /// Creates a table.
    public init(entries: [Entry] = []) {
        self.entries = entries
    }

    /// The keys, in entry order.
    public var keys: [String] { entries.map(\.key) }

    /// The entry for `key`, or nil.
    public func entry(_ key: String) -> Entry? { entries.first { $0.key == key } }

    /// The value at `key`, or nil.
    public subscript(key: String) -> TOMLNode? { entry(key)?.node }
}

/// A TOML date-time, local date or local time: the parts the kind has.
public struct TOMLDateTime: Sendable, Hashable, CustomStringConvertible {
    /// A calendar date.
    public struct Date: Sendable, Hashable {
        /// The year (0...9999).
        public var year: Int
        /// The month (1...12).
        public var month: Int
        /// The day (1...31).
        public var day: Int

        /// Creates a date.
        public init(year: Int, month: Int, day: Int) {
            self.year = year
            self.month = month
            self.day = day
        }
    }

    /// A time of day.
    public struct Time: Sendable, Hashable {
        /// The hour (0...23).
        public var hour: Int
        /// The minute (0...59).
        public var minute: Int
        /// The second (0...60).
        public var second: Int
        /// The fraction of the second in nanoseconds.
        public var nanosecond: Int

        /// Creates a time.
        public init(hour: Int, minute: Int, second: Int, nanosecond: Int = 0) {
            self.hour = hour
            self.minute = minute
            self.second = second
            self.nanosecond = nanosecond
        }
    }

    /// The date; nil for a local time.
    public var date: Date?
    /// The time; nil for a local date.
    public var time: Time?
    /// The offset from UTC in minutes (`Z` is 0); nil unless an offset date-time.
    public var offsetMinutes: Int?

    /// Creates a value; a date-time has both `date` and `time`, and only it may have an offset.
    public init(date: Date?, time: Time?, offsetMinutes: Int? = nil) {
        self.date = date
        self.time = time
        self.offsetMinutes = offsetMinutes
    }

    /// `offset date-time`, `local date-time`, `local date` or `local time`.
    public var kindName: String {
        switch (date, time) {
        case (.some, .some): offsetMinutes == nil ? "local date-time" : "offset date-time"
        case (.some, .none): "local date"
        default: "local time"
        }
    }

    /// RFC 3339 text as Python's `isoformat()` writes it, except that the fraction of a second
    /// has no trailing zeros: `1979-05-27T07:32:00.5+00:00`, `1979-05-27`, `07:32:00`.
    public var description: String {
        var text = ""
        if let date {
            text += pad(date.year, 4) + "-" + pad(date.month, 2) + "-" + pad(date.day, 2)
        }
        if let time {
            if date != nil { text += "T" }
            text += pad(time.hour, 2) + ":" + pad(time.minute, 2) + ":" + pad(time.second, 2)
            if time.nanosecond > 0 {
                var fraction = pad(time.nanosecond, 9)
                while fraction.hasSuffix("0") { fraction.removeLast() }
                text += "." + fraction
            }
        }
        if let offsetMinutes {
            let magnitude = abs(offsetMinutes)
            text += (offsetMinutes < 0 ? "-" : "+") + pad(magnitude / 60, 2) + ":" + pad(magnitude % 60, 2)
        }
        return text
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
