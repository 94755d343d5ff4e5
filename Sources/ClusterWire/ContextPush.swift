import Parallel
import RPC

/// `PushContextRequest` carrying one contribution, encoded and decoded straight between the
/// wire bytes and a ``HostTensor``: the hot path of the peer context exchange (megabytes per
/// collective) makes one copy each way instead of the three the generic protobuf-c path makes
/// (values to bytes, bytes to C memory, C memory to the packed buffer). The bytes are exactly
/// protobuf's encoding of `PushContextRequest` (tested against protobuf-c both ways), so any
/// gRPC peer can read or write them.
public struct ContextPush: RPCMessage, Equatable {
    /// `ContextKey` fields.
    public var jobID: String
    public var epoch: UInt64
    public var forward: Int64
    public var kind: ExchangeKind
    public var site: Int32
    /// The contributing clip.
    public var fromClip: Int32
    public var part: ContextPart
    /// HEAD, TAIL, GATHER: the frames.
    public var tensor: HostTensor?
    /// REDUCE: the values.
    public var values: [Double]

    /// A contribution.
    public init(jobID: String, epoch: UInt64, forward: Int64, kind: ExchangeKind, site: Int32, fromClip: Int32,
                part: ContextPart, tensor: HostTensor? = nil, values: [Double] = []) {
        self.jobID = jobID
        self.epoch = epoch
        self.forward = forward
        self.kind = kind
        self.site = site
        self.fromClip = fromClip
        self.part = part
        self.tensor = tensor
        self.values = values
    }

    // MARK: Encoding

    public func serializedBytes() -> [UInt8] {
        var key = ProtoWriter()
        key.string(1, jobID)
        key.varint(2, epoch)
        key.varint(3, UInt64(bitPattern: forward))
        key.varint(4, UInt64(bitPattern: Int64(kind.rawValue)))
        key.varint(5, UInt64(bitPattern: Int64(site)))

        var tensorHeader = ProtoWriter()
        var dataBytes = 0
        if let tensor {
            dataBytes = tensor.values.count * MemoryLayout<Float>.size
            tensorHeader.varint(1, UInt64(DType.float32.rawValue))
            var shape = ProtoWriter()
            for extent in tensor.shape { shape.rawVarint(UInt64(extent)) }
            tensorHeader.lengthDelimited(2, shape.bytes)
            tensorHeader.tag(3, wireType: 2)
            tensorHeader.rawVarint(UInt64(dataBytes))
        }

        var contribution = ProtoWriter()
        contribution.lengthDelimited(1, key.bytes)
        contribution.varint(2, UInt64(bitPattern: Int64(fromClip)))
        contribution.varint(3, UInt64(bitPattern: Int64(part.rawValue)))
        if tensor != nil {
            contribution.tag(4, wireType: 2)
            contribution.rawVarint(UInt64(tensorHeader.bytes.count + dataBytes))
        }
        var valuesLength = 0
        if !values.isEmpty { valuesLength = values.count * 8 }

        // contributions (field 1 of PushContextRequest), then the tensor's data, then values.
        var valuesField = ProtoWriter()
        if !values.isEmpty {
            valuesField.tag(5, wireType: 2)
            valuesField.rawVarint(UInt64(valuesLength))
        }
        let contributionLength = contribution.bytes.count + tensorHeader.bytes.count + dataBytes + valuesField.bytes.count + valuesLength
        var outer = ProtoWriter()
        outer.tag(1, wireType: 2)
        outer.rawVarint(UInt64(contributionLength))
        let total = outer.bytes.count + contributionLength
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, count in
            let base = UnsafeMutableRawBufferPointer(buffer)
            var offset = 0
            func append(_ source: UnsafeRawBufferPointer) {
                UnsafeMutableRawBufferPointer(rebasing: base[offset ..< offset + source.count]).copyMemory(from: source)
                offset += source.count
            }
            outer.bytes.withUnsafeBytes { append($0) }
            contribution.bytes.withUnsafeBytes { append($0) }
            tensorHeader.bytes.withUnsafeBytes { append($0) }
            tensor?.values.withUnsafeBytes { append($0) }
            valuesField.bytes.withUnsafeBytes { append($0) }
            values.withUnsafeBytes { append($0) }
            count = offset
        }
    }

    // MARK: Decoding

    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(RPCError) -> ContextPush in
                var decoded: ContextPush?
                var outer = ProtoReader(raw, what: "infinity.v1.PushContextRequest")
                while let (field, value) = try outer.next() {
                    guard field == 1, case .bytes(let range) = value else { continue }
                    guard decoded == nil else {
                        throw RPCError(code: .invalidArgument, message: "PushContextRequest: this worker takes one contribution per push")
                    }
                    decoded = try Self.contribution(UnsafeRawBufferPointer(rebasing: raw[range]))
                }
                guard let decoded else { throw RPCError(code: .invalidArgument, message: "PushContextRequest: no contribution") }
                return decoded
            }
        }
        self = try result.get()
    }

    private static func contribution(_ raw: UnsafeRawBufferPointer) throws(RPCError) -> ContextPush {
        var push = ContextPush(jobID: "", epoch: 0, forward: 0, kind: .unspecified, site: 0, fromClip: 0, part: .unspecified)
        var sawKey = false
        var reader = ProtoReader(raw, what: "infinity.v1.ContextContribution")
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (1, .bytes(let range)):
                sawKey = true
                var key = ProtoReader(UnsafeRawBufferPointer(rebasing: raw[range]), what: "infinity.v1.ContextKey")
                let keyRaw = UnsafeRawBufferPointer(rebasing: raw[range])
                while let (keyField, keyValue) = try key.next() {
                    switch (keyField, keyValue) {
                    case (1, .bytes(let text)): push.jobID = String(decoding: UnsafeRawBufferPointer(rebasing: keyRaw[text]), as: UTF8.self)
                    case (2, .varint(let number)): push.epoch = number
                    case (3, .varint(let number)): push.forward = Int64(bitPattern: number)
                    case (4, .varint(let number)): push.kind = ExchangeKind(rawValue: Int32(truncatingIfNeeded: number)) ?? .unspecified
                    case (5, .varint(let number)): push.site = Int32(truncatingIfNeeded: number)
                    default: break
                    }
                }
            case (2, .varint(let number)): push.fromClip = Int32(truncatingIfNeeded: number)
            case (3, .varint(let number)): push.part = ContextPart(rawValue: Int32(truncatingIfNeeded: number)) ?? .unspecified
            case (4, .bytes(let range)): push.tensor = try tensor(UnsafeRawBufferPointer(rebasing: raw[range]))
            case (5, .bytes(let range)):
                let packed = UnsafeRawBufferPointer(rebasing: raw[range])
                guard packed.count % 8 == 0 else {
                    throw RPCError(code: .invalidArgument, message: "ContextContribution.values: \(packed.count) bytes is not a whole number of doubles")
                }
                push.values += [Double](unsafeUninitializedCapacity: packed.count / 8) { buffer, count in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: packed)
                    count = packed.count / 8
                }
            case (5, .fixed64(let bits)): push.values.append(Double(bitPattern: bits))
            default: break
            }
        }
        guard sawKey else { throw RPCError(code: .invalidArgument, message: "contribution: key missing") }
        return push
    }

    private static func tensor(_ raw: UnsafeRawBufferPointer) throws(RPCError) -> HostTensor {
        var dtype: UInt64 = 0
        var shape: [Int64] = []
        var data: UnsafeRawBufferPointer?
        var reader = ProtoReader(raw, what: "infinity.v1.Tensor")
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (1, .varint(let number)): dtype = number
            case (2, .bytes(let range)):
                var packed = ProtoReader(UnsafeRawBufferPointer(rebasing: raw[range]), what: "infinity.v1.Tensor.shape")
                while !packed.isAtEnd { shape.append(Int64(bitPattern: try packed.rawVarint())) }
            case (2, .varint(let number)): shape.append(Int64(bitPattern: number))
            case (3, .bytes(let range)): data = UnsafeRawBufferPointer(rebasing: raw[range])
            default: break
            }
        }
        guard dtype == UInt64(DType.float32.rawValue) else {
            throw RPCError(code: .invalidArgument, message: "contribution.tensor: dtype \(dtype) is not float32")
        }
        let elements = try WireTensor.elementCount(of: shape, field: "contribution.tensor")
        let bytes = data ?? UnsafeRawBufferPointer(start: nil, count: 0)
        guard bytes.count == elements * 4 else {
            throw RPCError(code: .invalidArgument,
                           message: "contribution.tensor: \(bytes.count) bytes of data, shape \(shape) needs \(elements * 4)")
        }
        let values = [Float](unsafeUninitializedCapacity: elements) { buffer, count in
            if elements > 0 { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes) }
            count = elements
        }
        return HostTensor(shape: shape.map { Int($0) }, values: values)
    }
}

/// Appends protobuf fields.
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func rawVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func tag(_ field: Int, wireType: UInt64) { rawVarint(UInt64(field) << 3 | wireType) }

    /// A varint field, omitted when zero (proto3).
    mutating func varint(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        tag(field, wireType: 0)
        rawVarint(value)
    }

    mutating func lengthDelimited(_ field: Int, _ payload: [UInt8]) {
        guard !payload.isEmpty else { return }
        tag(field, wireType: 2)
        rawVarint(UInt64(payload.count))
        bytes += payload
    }

    mutating func string(_ field: Int, _ text: String) { lengthDelimited(field, Array(text.utf8)) }
}

/// Reads protobuf fields; malformed input throws INVALID_ARGUMENT naming the message.
struct ProtoReader {
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(Range<Int>)
        case fixed32(UInt32)
    }

    private let raw: UnsafeRawBufferPointer
    private var offset = 0
    private let what: String

    init(_ raw: UnsafeRawBufferPointer, what: String) {
        self.raw = raw
        self.what = what
    }

    var isAtEnd: Bool { offset >= raw.count }

    private func malformed() -> RPCError {
        RPCError(code: .invalidArgument, message: "cannot decode \(raw.count) bytes as \(what): malformed at byte \(offset)")
    }

    mutating func rawVarint() throws(RPCError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < raw.count {
            let byte = raw[offset]
            offset += 1
            guard shift < 64 else { throw malformed() }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
        throw malformed()
    }

    /// The next field, or nil at the end.
    mutating func next() throws(RPCError) -> (Int, Value)? {
        guard offset < raw.count else { return nil }
        let key = try rawVarint()
        let field = Int(key >> 3)
        guard field >= 1 else { throw malformed() }
        switch key & 7 {
        case 0: return (field, .varint(try rawVarint()))
        case 1:
            guard raw.count - offset >= 8 else { throw malformed() }
            defer { offset += 8 }
            return (field, .fixed64(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))))
        case 2:
            let length = try rawVarint()
            guard length <= UInt64(raw.count - offset) else { throw malformed() }
            defer { offset += Int(length) }
            return (field, .bytes(offset ..< offset + Int(length)))
        case 5:
            guard raw.count - offset >= 4 else { throw malformed() }
            defer { offset += 4 }
            return (field, .fixed32(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))))
        default:
            throw malformed()
        }
    }
}
