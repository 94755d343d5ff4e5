// The one bridge between ClusterWire's Swift values and the protobuf-c structs of the Wire
// module: encoding builds a C struct tree in a WireArena and packs it, decoding unpacks with
// protobuf-c and reads the tree back. Nothing here is public: the C structs never leave the module.
import RPC
internal import Wire

#if !_endian(little)
#error("ClusterWire sends float32 and float64 as the host's bytes: it needs a little-endian host")
#endif

/// A Swift value with a protobuf-c counterpart. Every message of Protos/infinity/v1 conforms.
protocol WireConvertible {
    /// The protobuf-c struct, `Infinity__V1__<Name>`.
    associatedtype CMessage
    /// The message's full proto name, for errors.
    static var protoName: String { get }
    /// protobuf-c's `*__unpack`: a heap message to free with `protobuf_c_message_free_unpacked`,
    /// or nil when the bytes do not decode.
    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<CMessage>?
    /// protobuf-c's `*__init`: sets the descriptor and every field's default.
    static func initialize(_ message: UnsafeMutablePointer<CMessage>)
    /// Reads a decoded struct.
    init(wire message: CMessage) throws(RPCError)
    /// Writes the value into an initialised struct; everything it points to lives in `arena`.
    func fill(_ message: inout CMessage, in arena: WireArena)
}

/// Encoding and decoding of whole messages, shared by every ``WireConvertible``.
enum WireCodec {
    /// Decodes `bytes` as `T`, failing with `invalidArgument` when protobuf-c cannot.
    static func decode<T: WireConvertible>(_ bytes: [UInt8], as type: T.Type = T.self) throws(RPCError) -> T {
        let decoded = bytes.withUnsafeBufferPointer { T.unpack($0) }
        guard let decoded else {
            throw RPCError(code: .invalidArgument, message: "cannot decode \(bytes.count) bytes as \(T.protoName)")
        }
        // The descriptor unpack stored in the message frees the whole tree.
        defer { protobuf_c_message_free_unpacked(baseMessage(decoded), nil) }
        return try T(wire: decoded.pointee)
    }

    /// The wire bytes of `value`.
    static func encode<T: WireConvertible>(_ value: T) -> [UInt8] {
        WireArena.with { arena in
            let message = baseMessage(arena.filled(value))
            let size = protobuf_c_message_get_packed_size(message)
            guard size > 0 else { return [] }
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                count = protobuf_c_message_pack(message, buffer.baseAddress)
            }
        }
    }

    /// Every protobuf-c message struct starts with its `ProtobufCMessage base`.
    private static func baseMessage<C>(_ message: UnsafeMutablePointer<C>) -> UnsafeMutablePointer<ProtobufCMessage> {
        UnsafeMutableRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self)
    }
}

/// Owns the C memory of one message being encoded: strings, arrays, byte buffers and
/// sub-message structs. Everything is released when ``with(_:)`` returns, after packing.
final class WireArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    private init() {}

    deinit {
        for allocation in allocations {
            allocation.deallocate()
        }
    }

    /// Runs `body` with a fresh arena and frees all it allocated afterwards.
    static func with<R>(_ body: (WireArena) -> R) -> R {
        let arena = WireArena()
        return withExtendedLifetime(arena) { body(arena) }
    }

    /// A NUL-terminated copy of `string` (protobuf-c reads `char *` fields with strlen, so a string
    /// holding NUL travels up to its first NUL).
    func string(_ string: String) -> UnsafeMutablePointer<CChar> {
        var string = string
        return string.withUTF8 { utf8 in
            let copy = allocate(CChar.self, count: utf8.count + 1)
            if let source = utf8.baseAddress {
                UnsafeMutableRawPointer(copy).copyMemory(from: source, byteCount: utf8.count)
            }
            copy[utf8.count] = 0
            return copy
        }
    }

    /// A copy of `values` as a repeated scalar field: (count, elements).
    func array<T: BitwiseCopyable>(_ values: [T]) -> (Int, UnsafeMutablePointer<T>?) {
        guard !values.isEmpty else { return (0, nil) }
        let copy = allocate(T.self, count: values.count)
        values.withUnsafeBufferPointer { copy.initialize(from: $0.baseAddress!, count: $0.count) }
        return (values.count, copy)
    }

    /// A repeated string field: (count, C strings).
    func strings(_ values: [String]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) {
        guard !values.isEmpty else { return (0, nil) }
        let pointers = allocate(UnsafeMutablePointer<CChar>?.self, count: values.count)
        for (index, value) in values.enumerated() {
            pointers[index] = string(value)
        }
        return (values.count, pointers)
    }

    /// A bytes field holding a copy of `bytes`.
    func bytes(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        let (count, copy) = array(bytes)
        return ProtobufCBinaryData(len: count, data: copy)
    }

    /// An initialised, filled struct for `value`.
    func filled<T: WireConvertible>(_ value: T) -> UnsafeMutablePointer<T.CMessage> {
        let message = allocate(T.CMessage.self, count: 1)
        T.initialize(message)
        value.fill(&message.pointee, in: self)
        return message
    }

    /// A message field: NULL when absent.
    func message<T: WireConvertible>(_ value: T?) -> UnsafeMutablePointer<T.CMessage>? {
        value.map { filled($0) }
    }

    /// A repeated message field: (count, struct pointers).
    func messages<T: WireConvertible>(_ values: [T]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<T.CMessage>?>?) {
        guard !values.isEmpty else { return (0, nil) }
        let pointers = allocate(UnsafeMutablePointer<T.CMessage>?.self, count: values.count)
        for (index, value) in values.enumerated() {
            pointers[index] = filled(value)
        }
        return (values.count, pointers)
    }

    /// Uninitialised memory for `count` values of `T`, freed with the arena. C initialises it
    /// (`*__init`) or the caller does.
    private func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<T>.stride * count,
                                                      alignment: MemoryLayout<T>.alignment)
        allocations.append(memory)
        return memory.bindMemory(to: T.self, capacity: count)
    }
}

/// Reading fields out of a decoded protobuf-c struct.
enum WireRead {
    /// A string field (protobuf-c never leaves one NULL, but NULL reads as "").
    static func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? ""
    }

    /// A bytes field.
    static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let base = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: data.len))
    }

    /// A repeated scalar field.
    static func array<T>(_ pointer: UnsafeMutablePointer<T>?, count: Int) -> [T] {
        guard count > 0, let pointer else { return [] }
        return Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// A repeated string field.
    static func strings(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, count: Int) -> [String] {
        array(pointer, count: count).map(string)
    }

    /// A singular message field: nil when absent.
    static func message<T: WireConvertible>(_ pointer: UnsafeMutablePointer<T.CMessage>?, as type: T.Type) throws(RPCError) -> T? {
        guard let pointer else { return nil }
        return try T(wire: pointer.pointee)
    }

    /// A message field that protobuf-c always sets (a repeated element, the set case of a oneof).
    static func required<T: WireConvertible>(_ pointer: UnsafeMutablePointer<T.CMessage>?, as type: T.Type) throws(RPCError) -> T {
        guard let pointer else {
            throw RPCError(code: .internalError, message: "protobuf-c decoded a NULL \(T.protoName)")
        }
        return try T(wire: pointer.pointee)
    }

    /// A repeated message field.
    static func messages<T: WireConvertible>(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<T.CMessage>?>?, count: Int,
                                             as type: T.Type) throws(RPCError) -> [T] {
        var values: [T] = []
        values.reserveCapacity(count)
        for element in array(pointer, count: count) {
            values.append(try required(element, as: T.self))
        }
        return values
    }
}

/// A proto enum: its raw values are the proto numbers; numbers this build does not know read as
/// `unspecified` (proto3 enums are open, so a newer peer may send them).
protocol WireEnum: RawRepresentable where RawValue == Int32 {
    /// Value 0.
    static var unspecified: Self { get }
}

extension WireEnum {
    /// The value protobuf-c decoded (its C enums import with unsigned raw values).
    init(wireValue: UInt32) {
        self = Self(rawValue: Int32(bitPattern: wireValue)) ?? .unspecified
    }

    /// The value for a protobuf-c enum field.
    var wireValue: UInt32 {
        UInt32(bitPattern: rawValue)
    }
}
