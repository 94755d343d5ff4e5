extension SafeTensorsFile {
    /// The largest header accepted. Real headers are at most a few MB; the reference
    /// implementation uses the same bound, which keeps a corrupt length from costing gigabytes.
    static let maximumHeaderLength = 100_000_000

    /// A header parsed and checked against the file it came from.
    struct Header {
        /// The `__metadata__` entries (empty when absent).
        var metadata: [String: String]
        /// Every tensor, by name.
        var tensors: [String: TensorInfo]
        /// Offset of the data buffer from the start of the file.
        var dataStart: Int

        /// Parses the header of `file` and checks every rule of the format, so that any byte
        /// range it returns lies inside the file. Errors name `path` and the problem.
        init(parsing file: UnsafeRawBufferPointer, path: String) throws(ModelError) {
            func problem(_ text: String) -> ModelError {
                ModelError("safetensors file '\(path)': \(text)")
            }

            guard file.count >= 8 else {
                throw problem("file is \(file.count) bytes, shorter than the 8-byte header length")
            }
            let declaredLength = file.loadUnaligned(as: UInt64.self).littleEndian
            guard declaredLength <= UInt64(SafeTensorsFile.maximumHeaderLength) else {
                throw problem("header length \(declaredLength) exceeds the limit of "
                    + "\(SafeTensorsFile.maximumHeaderLength) bytes (corrupt length?)")
            }
            let headerLength = Int(declaredLength)
            guard headerLength <= file.count - 8 else {
                throw problem("header length \(headerLength) runs past the end of the "
                    + "\(file.count)-byte file (truncated file?)")
            }
            let headerBytes = UnsafeRawBufferPointer(rebasing: file[8 ..< 8 + headerLength])
            guard String(validating: headerBytes, as: UTF8.self) != nil else {
                throw problem("header is not valid UTF-8")
            }

            let root: JSONValue
            do {
                var parser = JSONParser(bytes: headerBytes)
                root = try parser.parseDocument()
            } catch {
                throw problem("header is not valid JSON: \(error.message) at byte \(error.offset) of the header")
            }
            guard case .object(let entries) = root else {
                throw problem("header is \(root.kindName), not a JSON object")
            }

            var metadata: [String: String] = [:]
            var tensors: [String: TensorInfo] = [:]
            for (key, value) in entries {
                if key == "__metadata__" {
                    metadata = try Self.metadata(value, problem: problem)
                } else {
                    tensors[key] = try Self.tensorInfo(named: key, value, problem: problem)
                }
            }

            let dataLength = file.count - 8 - headerLength
            try Self.checkTiling(of: tensors, dataLength: dataLength, problem: problem)
            self.metadata = metadata
            self.tensors = tensors
            self.dataStart = 8 + headerLength
        }

        private static func metadata(
            _ value: JSONValue, problem: (String) -> ModelError
        ) throws(ModelError) -> [String: String] {
            guard case .object(let entries) = value else {
                throw problem("__metadata__ is \(value.kindName), not an object of strings")
            }
            var metadata: [String: String] = [:]
            for (key, value) in entries {
                guard case .string(let text) = value else {
                    throw problem("__metadata__ value for '\(key)' is \(value.kindName), not a string")
                }
                metadata[key] = text
            }
            return metadata
        }

        /// Reads one tensor entry. Fields other than dtype, shape and data_offsets are ignored,
        /// as the reference implementation ignores them.
        private static func tensorInfo(
            named name: String, _ value: JSONValue, problem: (String) -> ModelError
        ) throws(ModelError) -> TensorInfo {
            guard case .object(let fields) = value else {
                throw problem("entry for tensor '\(name)' is \(value.kindName), not an object")
            }
            func field(_ key: String) throws(ModelError) -> JSONValue {
                guard let value = fields.first(where: { $0.key == key })?.value else {
                    throw problem("tensor '\(name)' has no \(key)")
                }
                return value
            }

            let dtypeValue = try field("dtype")
            guard case .string(let dtypeName) = dtypeValue else {
                throw problem("dtype of tensor '\(name)' is \(dtypeValue.kindName), not a string")
            }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                throw problem("tensor '\(name)' has unknown dtype '\(dtypeName)'")
            }

            let shapeValue = try field("shape")
            guard case .array(let extents) = shapeValue else {
                throw problem("shape of tensor '\(name)' is \(shapeValue.kindName), not an array")
            }
            var shape: [Int] = []
            shape.reserveCapacity(extents.count)
            for (axis, extent) in extents.enumerated() {
                guard let value = extent.nonNegativeInteger else {
                    throw problem("shape[\(axis)] of tensor '\(name)' is \(extent.summary); "
                        + "extents must be non-negative integers")
                }
                shape.append(value)
            }

            guard case .array(let offsets) = try field("data_offsets"), offsets.count == 2 else {
                throw problem("data_offsets of tensor '\(name)' must be an array of two integers")
            }
            guard let begin = offsets[0].nonNegativeInteger, let end = offsets[1].nonNegativeInteger else {
                throw problem("data_offsets of tensor '\(name)' are [\(offsets[0].summary), "
                    + "\(offsets[1].summary)]; offsets must be non-negative integers")
            }
            guard begin <= end else {
                throw problem("data_offsets of tensor '\(name)' are [\(begin), \(end)]: begin is after end")
            }

            // Checked arithmetic: a crafted shape must not wrap around to a small byte count.
            var count = 1
            var overflow = false
            for extent in shape where !overflow {
                (count, overflow) = count.multipliedReportingOverflow(by: extent)
            }
            let (bits, bitsOverflow) = count.multipliedReportingOverflow(by: dtype.bitWidth)
            guard !overflow, !bitsOverflow else {
                throw problem("shape \(shape) of tensor '\(name)' has too many elements (overflow)")
            }
            guard bits % 8 == 0 else {
                throw problem("tensor '\(name)' has \(count) \(dtype.rawValue) elements, "
                    + "which do not fill a whole number of bytes")
            }
            guard end - begin == bits / 8 else {
                throw problem("tensor '\(name)' is \(dtype.rawValue) with shape \(shape), which needs "
                    + "\(bits / 8) bytes, but its data_offsets [\(begin), \(end)] span \(end - begin)")
            }
            return TensorInfo(dtype: dtype, shape: shape, elementCount: count, dataOffsets: begin ..< end)
        }

        /// Checks that the tensors' ranges, sorted by offset, cover the data buffer exactly:
        /// no overlap (two tensors sharing bytes), no gap (bytes no tensor owns), and nothing
        /// beyond the end of the file.
        private static func checkTiling(
            of tensors: [String: TensorInfo], dataLength: Int, problem: (String) -> ModelError
        ) throws(ModelError) {
            let ordered = tensors.sorted {
                ($0.value.dataOffsets.lowerBound, $0.value.dataOffsets.upperBound, $0.key)
                    < ($1.value.dataOffsets.lowerBound, $1.value.dataOffsets.upperBound, $1.key)
            }
            var covered = 0
            var previous: (name: String, range: Range<Int>)? = nil
            for (name, info) in ordered {
                let range = info.dataOffsets
                if range.lowerBound < covered, let previous {
                    throw problem("tensors '\(previous.name)' [\(previous.range.lowerBound), "
                        + "\(previous.range.upperBound)] and '\(name)' [\(range.lowerBound), "
                        + "\(range.upperBound)] overlap")
                }
                if range.lowerBound > covered {
                    throw problem("data bytes [\(covered), \(range.lowerBound)) belong to no tensor "
                        + "(tensor '\(name)' begins at \(range.lowerBound))")
                }
                if range.upperBound > dataLength {
                    throw problem("tensor '\(name)' ends at data byte \(range.upperBound) but the "
                        + "data buffer holds only \(dataLength) bytes (truncated file?)")
                }
                covered = range.upperBound
                previous = (name, range)
            }
            guard covered == dataLength else {
                throw problem("the last \(dataLength - covered) bytes of the data buffer belong to no tensor")
            }
        }
    }
}

// MARK: - JSON

/// A parsed JSON value. Objects keep their keys in file order; numbers keep their text so that
/// integers are read exactly and `2.0` is told apart from `2`.
private enum JSONValue {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    /// The value as an `Int`, if it is a JSON integer from 0 to `Int.max`.
    var nonNegativeInteger: Int? {
        guard case .number(let text) = self, let value = Int(text), value >= 0 else { return nil }
        return value
    }

    /// "an object", "a string": for messages.
    var kindName: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }

    /// The value itself when short (a number as written), else its kind: for messages.
    var summary: String {
        switch self {
        case .number(let text): text.count <= 40 ? text : "a \(text.count)-digit number"
        case .string(let text): text.count <= 40 ? "\"\(text)\"" : "a string"
        case .bool(let value): "\(value)"
        default: kindName
        }
    }
}

/// Where and why a header is not valid JSON.
private struct JSONSyntaxError: Error {
    var message: String
    var offset: Int
}

/// A strict RFC 8259 parser over the header bytes (which are already known to be UTF-8).
///
/// Hand-written rather than Foundation's so that the Model module needs no Foundation, duplicate
/// keys are rejected (the format forbids them and a silent "last one wins" would hide a corrupt
/// file), integers stay exact, and every error carries its byte offset.
private struct JSONParser {
    /// Deep enough for any header (which nests three levels); shallow enough that a hostile
    /// `[[[[...` cannot exhaust the stack through recursion.
    static let maximumDepth = 64

    let bytes: UnsafeRawBufferPointer
    var position = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Parses one value followed only by whitespace (safetensors pads headers with spaces).
    mutating func parseDocument() throws(JSONSyntaxError) -> JSONValue {
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard position == bytes.count else { throw error("unexpected \(describeNext()) after the value") }
        return value
    }

    private mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth < Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth) levels") }
        skipWhitespace()
        guard position < bytes.count else { throw error("unexpected end of header") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0") ... UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw error("unexpected \(describeNext())")
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        position += 1  // {
        var entries: [(key: String, value: JSONValue)] = []
        var keys: Set<String> = []
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return .object(entries) }
        while true {
            skipWhitespace()
            let keyOffset = position
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw error("expected a string key, found \(describeNext())")
            }
            let key = try parseString()
            guard keys.insert(key).inserted else {
                throw JSONSyntaxError(message: "duplicate key \"\(key)\"", offset: keyOffset)
            }
            skipWhitespace()
            guard consume(UInt8(ascii: ":")) else { throw error("expected ':', found \(describeNext())") }
            entries.append((key, try parseValue(depth: depth + 1)))
            skipWhitespace()
            if consume(UInt8(ascii: "}")) { return .object(entries) }
            guard consume(UInt8(ascii: ",")) else { throw error("expected ',' or '}', found \(describeNext())") }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if consume(UInt8(ascii: "]")) { return .array(elements) }
        while true {
            elements.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            if consume(UInt8(ascii: "]")) { return .array(elements) }
            guard consume(UInt8(ascii: ",")) else { throw error("expected ',' or ']', found \(describeNext())") }
        }
    }

    private mutating func parseString() throws(JSONSyntaxError) -> String {
        position += 1  // opening quote
        var utf8: [UInt8] = []
        while position < bytes.count {
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                position += 1
                try parseEscape(into: &utf8)
            case 0 ..< 0x20:
                throw error("control character 0x\(String(byte, radix: 16)) inside a string")
            default:
                utf8.append(byte)
                position += 1
            }
        }
        throw error("unterminated string")
    }

    private mutating func parseEscape(into utf8: inout [UInt8]) throws(JSONSyntaxError) {
        guard position < bytes.count else { throw error("unterminated string") }
        let escaped = bytes[position]
        position += 1
        switch escaped {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            var scalarValue = try parseHex4()
            if (0xD800 ..< 0xDC00).contains(scalarValue) {
                // A high surrogate must be followed by an escaped low surrogate.
                guard consume(UInt8(ascii: "\\")), consume(UInt8(ascii: "u")) else {
                    throw error("unpaired surrogate in \\u escape")
                }
                let low = try parseHex4()
                guard (0xDC00 ..< 0xE000).contains(low) else { throw error("unpaired surrogate in \\u escape") }
                scalarValue = 0x10000 + ((scalarValue - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let scalar = Unicode.Scalar(scalarValue) else { throw error("unpaired surrogate in \\u escape") }
            utf8.append(contentsOf: UTF8.encode(scalar)!)
        default:
            position -= 1
            throw error("invalid escape \\\(describeNext())")
        }
    }

    private mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0 ..< 4 {
            guard position < bytes.count, let digit = hexDigitValue(bytes[position]) else {
                throw error("expected four hex digits after \\u")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private func hexDigitValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0") ... UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a") ... UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A") ... UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Scans a number per the JSON grammar and returns its text.
    private mutating func parseNumber() throws(JSONSyntaxError) -> String {
        let start = position
        _ = consume(UInt8(ascii: "-"))
        if consume(UInt8(ascii: "0")) {
            // JSON forbids leading zeros, so "0" ends the integer part.
        } else if !consumeDigits() {
            throw error("expected a digit, found \(describeNext())")
        }
        if consume(UInt8(ascii: ".")), !consumeDigits() {
            throw error("expected a digit after '.', found \(describeNext())")
        }
        if consume(UInt8(ascii: "e")) || consume(UInt8(ascii: "E")) {
            if !consume(UInt8(ascii: "+")) { _ = consume(UInt8(ascii: "-")) }
            guard consumeDigits() else { throw error("expected a digit in the exponent, found \(describeNext())") }
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start ..< position]), as: UTF8.self)
    }

    /// Consumes a run of decimal digits; false if there was none.
    private mutating func consumeDigits() -> Bool {
        let start = position
        while position < bytes.count, (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(bytes[position]) {
            position += 1
        }
        return position > start
    }

    private mutating func expectWord(_ word: StaticString) throws(JSONSyntaxError) {
        let length = word.utf8CodeUnitCount
        let matches = position + length <= bytes.count
            && word.withUTF8Buffer { $0.elementsEqual(bytes[position ..< position + length]) }
        guard matches else { throw error("unexpected \(describeNext())") }
        position += length
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    /// The next character for a message: `'x'`, or "end of header".
    private func describeNext() -> String {
        guard position < bytes.count else { return "end of header" }
        let byte = bytes[position]
        guard (0x21 ..< 0x7F).contains(byte) else { return "byte 0x\(String(byte, radix: 16))" }
        return "'\(Character(Unicode.Scalar(byte)))'"
    }

    private func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(message: message, offset: position)
    }
}
