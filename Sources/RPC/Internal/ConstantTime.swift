/// Comparison whose duration does not depend on where two secrets differ, so a token cannot be
/// guessed byte by byte from response times.
enum ConstantTime {
    static func equals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        // The length is not secret (it is a config constant); the contents are.
        var difference: UInt8 = lhs.count == rhs.count ? 0 : 1
        var right = rhs.makeIterator()
        for byte in lhs {
            difference |= byte ^ (right.next() ?? 0)
        }
        return difference == 0
    }
}
