/// A little-endian byte encoding for the small pieces of sampler state that checkpoints carry
/// (generator words, scheduler counters, history arrays): fixed-width integers and floats,
/// length-prefixed arrays, nothing self-describing. Each state type writes a leading tag and
/// version so that bytes of one kind are never read as another.
public struct StateEncoder: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty encoder.
    public init() {}

    /// Appends `value` as 8 little-endian bytes.
    public mutating func write(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends `value` as 8 bytes (two's complement).
    public mutating func write(_ value: Int) { write(UInt64(bitPattern: Int64(value))) }

    /// Appends `value` as 4 little-endian bytes.
    public mutating func write(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends `value`'s IEEE 754 bits.
    public mutating func write(_ value: Double) { write(value.bitPattern) }

    /// Appends a count, then the words.
    public mutating func write(_ values: [UInt32]) {
        write(values.count)
        for value in values { write(value) }
    }

    /// Appends a count, then the floats' IEEE 754 bits.
    public mutating func write(_ values: [Float]) {
        write(values.count)
        for value in values { write(value.bitPattern) }
    }
}

/// Reads what a ``StateEncoder`` wrote, failing (never trapping) on short or malformed input.
public struct StateDecoder: Sendable {
    private let bytes: [UInt8]
    private var offset = 0
    private let what: String

    /// Reads `bytes`, naming `what` in errors ("DPMSolverMultistepScheduler state").
    public init(_ bytes: [UInt8], what: String) {
        self.bytes = bytes
        self.what = what
    }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { offset == bytes.count }

    /// Throws unless every byte has been read.
    public func finish() throws {
        guard isAtEnd else { throw TensorError("\(what): \(bytes.count - offset) unexpected trailing bytes") }
    }

    private mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count - offset >= count else {
            throw TensorError("\(what): truncated at byte \(offset) of \(bytes.count) (needed \(count) more)")
        }
        defer { offset += count }
        return bytes[offset ..< offset + count]
    }

    /// Reads 8 bytes.
    public mutating func readUInt64() throws -> UInt64 {
        try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Reads 8 bytes as a signed integer.
    public mutating func readInt() throws -> Int { Int(Int64(bitPattern: try readUInt64())) }

    /// Reads 4 bytes.
    public mutating func readUInt32() throws -> UInt32 {
        try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Reads a double's bits.
    public mutating func readDouble() throws -> Double { Double(bitPattern: try readUInt64()) }

    /// Reads a count (checked against the bytes left, `elementSize` each) and that many words.
    public mutating func readUInt32s() throws -> [UInt32] {
        let count = try readCount(elementSize: 4)
        return try (0 ..< count).map { _ in try readUInt32() }
    }

    /// Reads a count and that many floats.
    public mutating func readFloats() throws -> [Float] {
        let count = try readCount(elementSize: 4)
        let slice = try take(count * 4)
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            slice.withUnsafeBytes { raw in
                for index in 0 ..< count {
                    buffer[index] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
                }
            }
            initialized = count
        }
    }

    /// Reads a tag written as a UInt32 and throws unless it is `expected`.
    public mutating func expectTag(_ expected: UInt32) throws {
        let tag = try readUInt32()
        guard tag == expected else {
            throw TensorError("\(what): tag \(String(tag, radix: 16)) is not this kind of state (\(String(expected, radix: 16)))")
        }
    }

    private mutating func readCount(elementSize: Int) throws -> Int {
        let count = try readInt()
        guard count >= 0, count <= (bytes.count - offset) / elementSize else {
            throw TensorError("\(what): array of \(count) elements does not fit the \(bytes.count - offset) bytes left")
        }
        return count
    }
}
