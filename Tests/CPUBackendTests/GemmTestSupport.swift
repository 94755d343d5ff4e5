import TestSupport
import Testing

// Helpers shared by the GEMM-family op tests.

/// Expects `actual` to match `expected` elementwise within 1e-4 times the larger of 1 and the
/// reference's largest magnitude; `label` names the variant in a failure.
func expectClose(_ actual: [Float], _ expected: [Double], _ label: String = "",
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    guard actual.count == expected.count else { return }
    let tolerance = 1e-4 * max(1, expected.map(abs).max() ?? 0)
    var worst = 0.0
    for (a, e) in zip(actual, expected) { worst = max(worst, abs(Double(a) - e)) }
    #expect(worst <= tolerance, "\(label) max abs error \(worst) above \(tolerance)", sourceLocation: sourceLocation)
}

/// A small deterministic generator (SplitMix64) of test values uniform in [-1, 1).
struct TestRandom {
    var stream: SplitMix64

    init(seed: UInt64) { stream = SplitMix64(state: seed) }

    mutating func next() -> UInt64 { stream.next() }

    mutating func values(_ count: Int) -> [Float] {
        (0 ..< count).map { _ in Float(next() >> 40) / Float(1 << 23) - 1 }
    }
}

// MARK: Naive references (double-precision accumulation)

/// `conv2d` of `x [N, C, H, W]` with `weight [O, C, K, K]`, zero padding, in Double.
func referenceConv2d(_ x: [Float], weight: [Float], bias: [Float]?, images: Int, channels: Int, height: Int,
                     width: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int) -> [Double] {
    let outHeight = (height + 2 * padding - kernel) / stride + 1
    let outWidth = (width + 2 * padding - kernel) / stride + 1
    var expected = [Double]()
    for n in 0 ..< images {
        for o in 0 ..< outChannels {
            for oy in 0 ..< outHeight {
                for ox in 0 ..< outWidth {
                    var sum = bias.map { Double($0[o]) } ?? 0
                    for ci in 0 ..< channels {
                        for ky in 0 ..< kernel {
                            for kx in 0 ..< kernel {
                                let iy = oy * stride + ky - padding, ix = ox * stride + kx - padding
                                guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                                sum += Double(x[((n * channels + ci) * height + iy) * width + ix])
                                    * Double(weight[((o * channels + ci) * kernel + ky) * kernel + kx])
                            }
                        }
                    }
                    expected.append(sum)
                }
            }
        }
    }
    return expected
}

/// `temporalConv` of `x [B, C, F, plane]` with `weight [O, C, taps]`, zero frames as padding, in Double.
func referenceTemporalConv(_ x: [Float], weight: [Float], bias: [Float]?, batch: Int, channels: Int, frames: Int,
                           plane: Int, outChannels: Int, taps: Int, padding: Int) -> [Double] {
    let outFrames = frames + 2 * padding - taps + 1
    var expected = [Double]()
    for b in 0 ..< batch {
        for o in 0 ..< outChannels {
            for f in 0 ..< outFrames {
                for pixel in 0 ..< plane {
                    var sum = bias.map { Double($0[o]) } ?? 0
                    for ci in 0 ..< channels {
                        for k in 0 ..< taps {
                            let frame = f + k - padding
                            guard frame >= 0, frame < frames else { continue }
                            sum += Double(x[((b * channels + ci) * frames + frame) * plane + pixel])
                                * Double(weight[(o * channels + ci) * taps + k])
                        }
                    }
                    expected.append(sum)
                }
            }
        }
    }
    return expected
}

