/// Base64 for `-bin` metadata: encodes without padding (what gRPC recommends sending) and decodes
/// both padded and unpadded text (what gRPC requires accepting).
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        // The URL-safe alphabet too: some peers send it, and accepting it costs nothing.
        table[Int(UInt8(ascii: "-"))] = 62
        table[Int(UInt8(ascii: "_"))] = 63
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(alphabet[Int(chunk >> 18 & 63)])
            out.append(alphabet[Int(chunk >> 12 & 63)])
            out.append(alphabet[Int(chunk >> 6 & 63)])
            out.append(alphabet[Int(chunk & 63)])
            index += 3
        }
        let remaining = bytes.count - index
        if remaining == 1 {
            let chunk = UInt32(bytes[index]) << 16
            out.append(alphabet[Int(chunk >> 18 & 63)])
            out.append(alphabet[Int(chunk >> 12 & 63)])
        } else if remaining == 2 {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out.append(alphabet[Int(chunk >> 18 & 63)])
            out.append(alphabet[Int(chunk >> 12 & 63)])
            out.append(alphabet[Int(chunk >> 6 & 63)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Nil for text with characters outside the alphabet or an impossible length.
    static func decode(_ text: String) -> [UInt8]? {
        var symbols = [UInt8]()
        symbols.reserveCapacity(text.utf8.count)
        for byte in text.utf8 where byte != UInt8(ascii: "=") {
            let value = decodeTable[Int(byte)]
            if value == 0xFF { return nil }
            symbols.append(value)
        }
        if symbols.count % 4 == 1 { return nil }
        var out = [UInt8]()
        out.reserveCapacity(symbols.count * 3 / 4)
        var index = 0
        while index + 4 <= symbols.count {
            let chunk = UInt32(symbols[index]) << 18 | UInt32(symbols[index + 1]) << 12
                | UInt32(symbols[index + 2]) << 6 | UInt32(symbols[index + 3])
            out.append(UInt8(chunk >> 16 & 0xFF))
            out.append(UInt8(chunk >> 8 & 0xFF))
            out.append(UInt8(chunk & 0xFF))
            index += 4
        }
        let remaining = symbols.count - index
        if remaining >= 2 {
            let chunk = UInt32(symbols[index]) << 18 | UInt32(symbols[index + 1]) << 12
                | (remaining == 3 ? UInt32(symbols[index + 2]) << 6 : 0)
            out.append(UInt8(chunk >> 16 & 0xFF))
            if remaining == 3 { out.append(UInt8(chunk >> 8 & 0xFF)) }
        }
        return out
    }
}
