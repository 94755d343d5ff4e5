/// The 32-bit Mersenne Twister (MT19937) exactly as PyTorch's `at::mt19937` runs it.
///
/// PyTorch seeds with `init_genrand` (Matsumoto and Nishimura's 2002 initialisation) on the
/// low 32 bits of the 64-bit seed and twists the whole state lazily, right before the first
/// output and again after every 624 outputs. The outputs are those of `std::mt19937` seeded
/// with the same 32-bit value.
struct MersenneTwister: Sendable {
    /// Words of state (N in the reference code).
    static let stateCount = 624
    /// Offset of the word that is mixed into each twisted word (M in the reference code).
    static let shift = 397
    private static let matrixA: UInt32 = 0x9908_B0DF
    private static let upperMask: UInt32 = 0x8000_0000
    private static let lowerMask: UInt32 = 0x7FFF_FFFF

    private var state: [UInt32]
    /// Index of the next word to temper; `stateCount` means the state must be twisted first.
    private var index: Int

    /// Seeds the state with the low 32 bits of `seed`, as `at::mt19937(uint64_t)` does.
    init(seed: UInt64) {
        var state = [UInt32](repeating: 0, count: Self.stateCount)
        state[0] = UInt32(truncatingIfNeeded: seed)
        for j in 1..<Self.stateCount {
            let previous = state[j - 1]
            state[j] = 1_812_433_253 &* (previous ^ (previous >> 30)) &+ UInt32(j)
        }
        self.state = state
        self.index = Self.stateCount
    }

    /// The raw state: the 624 words and the index of the next word to temper.
    var words: (state: [UInt32], index: Int) { (state, index) }

    /// An engine in a state ``words`` returned; nil when the words cannot be one.
    init?(state: [UInt32], index: Int) {
        guard state.count == Self.stateCount, (0 ... Self.stateCount).contains(index) else { return nil }
        self.state = state
        self.index = index
    }

    /// The next tempered 32-bit output.
    @inline(__always)
    mutating func next() -> UInt32 {
        if index == Self.stateCount {
            twist()
        }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// Regenerates all 624 words at once (`next_state` in PyTorch).
    private mutating func twist() {
        let n = Self.stateCount
        let m = Self.shift
        state.withUnsafeMutableBufferPointer { words in
            @inline(__always)
            func twisted(_ upper: UInt32, _ lower: UInt32, _ far: UInt32) -> UInt32 {
                let mixed = (upper & Self.upperMask) | (lower & Self.lowerMask)
                return far ^ (mixed >> 1) ^ ((lower & 1) == 0 ? 0 : Self.matrixA)
            }
            // Three runs so that no index needs a modulo: the far word is ahead of k, then
            // wraps around to the already twisted front, and the last word pairs with word 0.
            for k in 0..<(n - m) {
                words[k] = twisted(words[k], words[k + 1], words[k + m])
            }
            for k in (n - m)..<(n - 1) {
                words[k] = twisted(words[k], words[k + 1], words[k + m - n])
            }
            words[n - 1] = twisted(words[n - 1], words[0], words[m - 1])
        }
        index = 0
    }
}
