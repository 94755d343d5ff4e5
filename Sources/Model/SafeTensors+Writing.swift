#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Tensor

/// Writes safetensors files that the Python `safetensors` library reads, byte for byte the
/// files it would write for the same tensors when the metadata has at most one key.
///
/// Like the reference writer, it lists tensors in the header ordered by name (byte-wise), lays
/// their data out in that order, and pads the header with spaces so that the data buffer starts
/// at a multiple of 8 bytes. Metadata keys are sorted too (the reference's order is a hash
/// map's), so the same input always gives the same bytes.
public enum SafeTensorsWriter {
    /// Writes `tensors` to `path`, each stored as `dtype` (`F32` as is; `F16` and `BF16`
    /// rounded to nearest, ties to even, with overflow going to infinity as IEEE requires).
    ///
    /// The file is written under a temporary name beside `path` and renamed into place, so a
    /// reader never sees a half-written file and a failed write leaves any old file intact.
    /// Throws a ``ModelError`` naming `path` when a name is repeated or reserved, a shape has a
    /// negative extent or does not match the number of values, or the file cannot be written.
    public static func write(
        _ tensors: [(name: String, shape: [Int], values: [Float])],
        metadata: [String: String] = [:],
        to path: String,
        dtype: DType = .f32
    ) throws(ModelError) {
        func problem(_ text: String) -> ModelError {
            ModelError("cannot write safetensors file '\(path)': \(text)")
        }
        let ordered = tensors.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        for (index, tensor) in ordered.enumerated() {
            if index > 0 && ordered[index - 1].name == tensor.name {
                throw problem("tensor name '\(tensor.name)' appears twice")
            }
            try checkShape(of: tensor, problem: problem)
        }

        let header = headerBytes(for: ordered, metadata: metadata, dtype: dtype)
        let temporaryPath = "\(path).partial-\(getpid())"
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw problem("cannot create '\(temporaryPath)': \(systemError())") }
        do throws(FileOutput.Failure) {
            var output = FileOutput(descriptor: descriptor)
            try output.write(littleEndian: UInt64(header.count))
            try output.write(header)
            for tensor in ordered {
                try output.write(tensor.values, as: dtype)
            }
            try output.flush()
        } catch {
            close(descriptor)
            unlink(temporaryPath)
            throw problem("cannot write '\(temporaryPath)': \(error.reason)")
        }
        guard close(descriptor) == 0 else {
            let reason = systemError()
            unlink(temporaryPath)
            throw problem("cannot write '\(temporaryPath)': \(reason)")
        }
        guard rename(temporaryPath, path) == 0 else {
            let reason = systemError()
            unlink(temporaryPath)
            throw problem("cannot rename '\(temporaryPath)' into place: \(reason)")
        }
    }

    private static func checkShape(
        of tensor: (name: String, shape: [Int], values: [Float]), problem: (String) -> ModelError
    ) throws(ModelError) {
        if tensor.name == "__metadata__" {
            throw problem("'__metadata__' is reserved for the metadata and cannot name a tensor")
        }
        var count = 1
        for extent in tensor.shape {
            guard extent >= 0 else {
                throw problem("shape \(tensor.shape) of tensor '\(tensor.name)' has a negative extent")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else {
                throw problem("shape \(tensor.shape) of tensor '\(tensor.name)' has too many elements")
            }
            count = product
        }
        guard count == tensor.values.count else {
            throw problem("shape \(tensor.shape) of tensor '\(tensor.name)' has \(count) elements "
                + "but \(tensor.values.count) values were given")
        }
    }

    /// The header JSON, compact as serde_json writes it, padded with spaces to a multiple of 8.
    private static func headerBytes(
        for tensors: [(name: String, shape: [Int], values: [Float])],
        metadata: [String: String], dtype: DType
    ) -> [UInt8] {
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
                .map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        let elementSize = SafeTensorsDType(dtype).bitWidth / 8
        var offset = 0
        for tensor in tensors {
            let end = offset + tensor.values.count * elementSize
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append("\(jsonString(tensor.name)):{\"dtype\":\"\(dtype.rawValue)\","
                + "\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var bytes = Array("{\(entries.joined(separator: ","))}".utf8)
        bytes += repeatElement(UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8)
        return bytes
    }

    /// `text` as a JSON string literal, escaped exactly as serde_json escapes: quote, backslash
    /// and control characters only, with the short forms where JSON has them.
    private static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{00}" ... "\u{1F}":
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    private static func systemError() -> String {
        String(cString: strerror(errno))
    }
}

/// Buffered output to a file descriptor, so that tensors are encoded in fixed-size chunks
/// instead of building the whole file in memory.
private struct FileOutput {
    /// Why a write failed, as the OS put it.
    struct Failure: Error {
        var reason: String
    }

    private static let capacity = 1 << 20
    let descriptor: Int32
    private var buffer: [UInt8] = []

    init(descriptor: Int32) {
        self.descriptor = descriptor
        buffer.reserveCapacity(Self.capacity)
    }

    mutating func write(littleEndian value: UInt64) throws(Failure) {
        try write(withUnsafeBytes(of: value.littleEndian, Array.init))
    }

    mutating func write(_ bytes: [UInt8]) throws(Failure) {
        buffer += bytes
        if buffer.count >= Self.capacity { try flush() }
    }

    /// Appends `values` encoded as `dtype`, little-endian.
    mutating func write(_ values: [Float], as dtype: DType) throws(Failure) {
        switch dtype {
        case .f32: try write(values) { $0.bitPattern }
        case .f16: try write(values) { FloatBits.half(from: $0) }
        case .bf16: try write(values) { FloatBits.bfloat16(from: $0) }
        }
    }

    /// Appends each value's `encode`d bits, little-endian, a buffer-full at a time.
    private mutating func write<Bits: FixedWidthInteger>(
        _ values: [Float], encode: (Float) -> Bits
    ) throws(Failure) {
        let size = MemoryLayout<Bits>.size
        var start = 0
        while start < values.count {
            let end = min(values.count, start + max(1, (Self.capacity - buffer.count) / size))
            let used = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: (end - start) * size))
            buffer.withUnsafeMutableBytes { raw in
                for index in start ..< end {
                    raw.storeBytes(of: encode(values[index]).littleEndian,
                                   toByteOffset: used + (index - start) * size, as: Bits.self)
                }
            }
            if buffer.count >= Self.capacity { try flush() }
            start = end
        }
    }

    /// Writes out everything buffered, retrying partial writes and interrupted calls.
    mutating func flush() throws(Failure) {
        // `withUnsafeBytes` only rethrows untyped errors, so the failure is returned out of it.
        let failure: Failure? = buffer.withUnsafeBytes { raw in
            var written = 0
            while written < raw.count {
                let result = writeToDescriptor(descriptor, raw.baseAddress! + written, raw.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return Failure(reason: String(cString: strerror(errno)))
                }
                written += result
            }
            return nil
        }
        buffer.removeAll(keepingCapacity: true)
        if let failure { throw failure }
    }
}

/// The C `write`, under a name the methods called `write` above do not hide.
private func writeToDescriptor(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
