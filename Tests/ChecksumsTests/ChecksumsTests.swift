import Checksums
import Testing

@Suite struct CRC32Tests {
    /// Bit-at-a-time CRC-32, straight from the definition.
    static func reference(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    @Test func checkValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([]) == 0)
        #expect(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
    }

    @Test func matchesTheDefinitionAtEveryLengthAndAlignment() {
        let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        for start in 0..<9 {
            for length in [0, 1, 7, 8, 9, 15, 16, 17, 100, 291 - start] {
                let slice = Array(bytes[start..<(start + length)])
                let checksum = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<(start + length)])) }
                #expect(checksum == Self.reference(slice), "start \(start) length \(length)")
            }
        }
    }

    @Test func continuesAcrossPieces() {
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 11) }
        let whole = CRC32.checksum(bytes)
        for cut in [0, 1, 5, 4096, 9_999, 10_000] {
            let pieces = bytes.withUnsafeBytes { raw in
                CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[cut...]),
                               continuing: CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[..<cut])))
            }
            #expect(pieces == whole, "cut at \(cut)")
        }
    }
}

@Suite struct Adler32Tests {
    @Test("published check value, and the definition over 100,000 bytes (past zlib's 5552-byte deferral)")
    func checksums() {
        #expect(Adler32.checksum(Array("Wikipedia".utf8)) == 0x11E6_0398)
        let big = (0 ..< 100_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 255) }
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in big { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        #expect(Adler32.checksum(big) == b << 16 | a)
    }
}
