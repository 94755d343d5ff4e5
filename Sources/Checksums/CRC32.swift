// CRC-32 as zlib computes it (reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF):
// what PNG chunks, JobCompleted.crc32 and CheckpointHeader.crc32 carry. Slicing-by-8 tables, so checking
// hundreds of MB of latents costs well under a second.

/// CRC-32 with zlib's polynomial, as PNG chunks, gzip and zlib use it.
public enum CRC32 {
    /// The CRC of `bytes`; pass an earlier result as `continuing` to checksum data in pieces
    /// (`checksum(b, continuing: checksum(a)) == checksum(a + b)`), as zlib's `crc32` does.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing: UInt32 = 0) -> UInt32 {
        let table = tables
        var crc = ~continuing
        var index = 0
        let count = bytes.count
        table.withUnsafeBufferPointer { t in
            while count - index >= 8 {
                let low = bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self).littleEndian ^ crc
                let high = bytes.loadUnaligned(fromByteOffset: index + 4, as: UInt32.self).littleEndian
                crc = t[7 * 256 + Int(low & 0xFF)] ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((low >> 16) & 0xFF)] ^ t[4 * 256 + Int(low >> 24)]
                    ^ t[3 * 256 + Int(high & 0xFF)] ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((high >> 16) & 0xFF)] ^ t[Int(high >> 24)]
                index += 8
            }
            while index < count {
                crc = t[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
        }
        return ~crc
    }

    /// The CRC of `bytes`, continuing from `continuing` as the raw-buffer form does.
    public static func checksum(_ bytes: [UInt8], continuing: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: continuing) }
    }

    /// Table k (entries 256k..<256(k+1)) advances the CRC over a byte followed by k zero bytes.
    private static let tables: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 {
                crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1
            }
            table[byte] = crc
        }
        for slice in 1..<8 {
            for byte in 0..<256 {
                let previous = table[(slice - 1) * 256 + byte]
                table[slice * 256 + byte] = table[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return table
    }()
}
