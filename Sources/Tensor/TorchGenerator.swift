/// A random number generator that reproduces PyTorch's CPU generator bit for bit.
///
/// `TorchGenerator(seed: s)` starts where `torch.Generator("cpu").manual_seed(s)` starts, and
/// each call continues the stream as the matching PyTorch call on that generator would:
///
/// ```swift
/// var generator = TorchGenerator(seed: 42)
/// let latents = generator.randn(count: 1 * 4 * 16 * 32 * 32)
/// // == torch.randn(1, 4, 16, 32, 32, generator=torch.Generator().manual_seed(42)).flatten()
/// ```
///
/// Underneath is PyTorch's MT19937 engine (seeded with the low 32 bits of the seed) plus its
/// normal-sample cache. ``randn(count:)`` follows `normal_` on a contiguous float32 tensor:
///
/// - Fewer than 16 elements: one `at::normal_distribution<double>` sample per element. Each
///   Box-Muller step draws two 53-bit uniforms, returns `r cos(theta)` and caches
///   `r sin(theta)`, which the next scalar sample returns instead of drawing. The cache
///   outlives the call, so `randn(count: 7)` leaves one value for the next small call.
/// - 16 elements or more: all `count` float uniforms are drawn first (24 bits each), then
///   transformed 16 at a time (`normal_fill_AVX2`). When `count` is not a multiple of 16,
///   16 fresh uniforms are drawn and transformed into the last 16 elements, overwriting part
///   of the last full block. This path neither reads nor fills the cache.
///
/// The vectorised transform is the AVX2 kernel PyTorch runs on every x86-64 machine with
/// AVX2 or AVX512 (see `TorchBoxMuller`); its values match bit for bit. The small-count path
/// uses the platform's double `log1p`/`sin`/`cos`, which agree with glibc's to well under a
/// float ulp. PyTorch builds without AVX2 use a different transform (up to ~2e-6 apart).
///
/// The generator is a value: copying it forks the stream, and both copies then produce the
/// same numbers.
public struct TorchGenerator: Sendable {
    /// The seed passed to ``init(seed:)``, as `Generator.initial_seed()` reports it.
    public let seed: UInt64
    private var engine: MersenneTwister
    /// `next_double_normal_sample_`: the sine half of the last scalar Box-Muller pair.
    private var cachedNormal: Double?

    /// Starts the stream `torch.Generator("cpu").manual_seed(seed)` starts.
    ///
    /// Only the low 32 bits seed the engine, as in PyTorch: seeds `5` and `2**32 + 5` give the
    /// same numbers.
    public init(seed: UInt64) {
        self.seed = seed
        self.engine = MersenneTwister(seed: seed)
        self.cachedNormal = nil
    }

    // MARK: State

    /// The generator's complete state (seed, engine words and position, cached normal sample):
    /// a generator made from it with ``init(encodedState:)`` continues the stream exactly.
    public var encodedState: [UInt8] {
        var encoder = StateEncoder()
        encoder.write(Self.stateTag)
        encoder.write(seed)
        let (words, index) = engine.words
        encoder.write(words)
        encoder.write(index)
        encoder.write(cachedNormal == nil ? UInt32(0) : 1)
        encoder.write(cachedNormal ?? 0)
        return encoder.bytes
    }

    /// Restores a generator from ``encodedState``; throws on bytes that are not one.
    public init(encodedState bytes: [UInt8]) throws {
        var decoder = StateDecoder(bytes, what: "TorchGenerator state")
        try decoder.expectTag(Self.stateTag)
        let seed = try decoder.readUInt64()
        let words = try decoder.readUInt32s()
        let index = try decoder.readInt()
        let hasCache = try decoder.readUInt32()
        let cached = try decoder.readDouble()
        try decoder.finish()
        guard let engine = MersenneTwister(state: words, index: index), hasCache <= 1 else {
            throw TensorError("TorchGenerator state: \(words.count) words at index \(index) is not an MT19937 state")
        }
        self.seed = seed
        self.engine = engine
        self.cachedNormal = hasCache == 1 ? cached : nil
    }

    /// "TGEN" version 1.
    private static let stateTag: UInt32 = 0x5447_4531

    // MARK: Raw bits

    /// The next 32-bit output of the engine (`CPUGeneratorImpl::random()`).
    public mutating func nextUInt32() -> UInt32 {
        engine.next()
    }

    /// Two 32-bit outputs joined high word first (`CPUGeneratorImpl::random64()`).
    public mutating func nextUInt64() -> UInt64 {
        let high = UInt64(engine.next())
        return high << 32 | UInt64(engine.next())
    }

    // MARK: Uniform

    /// One float32 uniform in [0, 1), as one element of `torch.rand`: the low 24 bits of one
    /// 32-bit output times 2^-24.
    public mutating func nextUniformFloat() -> Float {
        Float(engine.next() & 0xFF_FFFF) * 0x1p-24
    }

    /// One float64 uniform in [0, 1), as one element of `torch.rand(dtype=torch.float64)`:
    /// the low 53 bits of a 64-bit draw times 2^-53.
    public mutating func nextUniformDouble() -> Double {
        Double(nextUInt64() & (1 << 53 - 1)) * 0x1p-53
    }

    /// `count` float32 uniforms in [0, 1), equal to `torch.rand` of any shape with `count`
    /// elements. `count` must not be negative.
    public mutating func rand(count: Int) -> [Float] {
        precondition(count >= 0, "TorchGenerator.rand: count must be >= 0, got \(count)")
        var values = [Float](repeating: 0, count: count)
        for i in values.indices {
            values[i] = nextUniformFloat()
        }
        return values
    }

    // MARK: Normal

    /// `count` float32 standard normals, equal to `torch.randn` of any shape with `count`
    /// elements (PyTorch fills contiguous memory in order). `count` must not be negative; use
    /// ``randn(shape:)`` to validate a shape from outside the program.
    public mutating func randn(count: Int) -> [Float] {
        precondition(count >= 0, "TorchGenerator.randn: count must be >= 0, got \(count)")
        guard count >= 16 else {
            return (0..<count).map { _ in Float(nextScalarNormal()) }
        }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initializedCount in
            let data = buffer.baseAddress!
            for i in 0..<count {
                data[i] = nextUniformFloat()
            }
            var start = 0
            while start + 16 <= count {
                TorchBoxMuller.transform16(data + start)
                start += 16
            }
            if count % 16 != 0 {
                let tail = data + (count - 16)
                for i in 0..<16 {
                    tail[i] = nextUniformFloat()
                }
                TorchBoxMuller.transform16(tail)
            }
            initializedCount = count
        }
    }

    /// Standard normals for a tensor of `shape`, in row-major order, equal to
    /// `torch.randn(*shape)`.
    ///
    /// - Throws: ``TensorError`` naming the axis when an extent is negative, or when the
    ///   element count overflows `Int`.
    public mutating func randn(shape: [Int]) throws -> [Float] {
        var count = 1
        for (axis, extent) in shape.enumerated() {
            guard extent >= 0 else {
                throw TensorError("TorchGenerator.randn: extent \(extent) of axis \(axis) in shape \(shape) must be >= 0")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else {
                throw TensorError("TorchGenerator.randn: shape \(shape) has more elements than Int can count")
            }
            count = product
        }
        return randn(count: count)
    }

    /// One `at::normal_distribution<double>(0, 1)` sample: the cached sine half if there is
    /// one, else a fresh Box-Muller pair whose sine half is cached.
    private mutating func nextScalarNormal() -> Double {
        if let cached = cachedNormal {
            cachedNormal = nil
            // `x * std + mean` with mean 0 turns -0 into +0, as PyTorch's transform does.
            return cached + 0
        }
        let u1 = nextUniformDouble()
        let u2 = nextUniformDouble()
        let (first, second) = TorchBoxMuller.doublePair(u1: u1, u2: u2)
        cachedNormal = second
        return first + 0
    }
}
