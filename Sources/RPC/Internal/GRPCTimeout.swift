/// The `grpc-timeout` header: at most eight ASCII digits followed by a unit
/// (`H`, `M`, `S`, `m`, `u`, `n`).
enum GRPCTimeout {
    /// Nil for a malformed value.
    static func parse(_ text: String) -> Duration? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes.count <= 9 else { return nil }
        var amount: Int64 = 0
        for byte in bytes.dropLast() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            amount = amount * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        switch bytes.last! {
        case UInt8(ascii: "H"): return .seconds(amount * 3600)
        case UInt8(ascii: "M"): return .seconds(amount * 60)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }

    /// The most precise unit whose amount fits in eight digits, rounded up (the peer's
    /// deadline is never earlier than ours), and at least one nanosecond.
    static func encode(_ timeout: Duration) -> String {
        let (seconds, attoseconds) = timeout.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return "1n" }
        let nanoseconds = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
        let limit = 99_999_999.0
        let units: [(Double, String)] = [(1, "n"), (1e3, "u"), (1e6, "m"), (1e9, "S"), (60e9, "M"), (3600e9, "H")]
        for (scale, unit) in units {
            let amount = (nanoseconds / scale).rounded(.up)
            if amount <= limit { return "\(Int64(amount))\(unit)" }
        }
        return "99999999H"
    }
}
