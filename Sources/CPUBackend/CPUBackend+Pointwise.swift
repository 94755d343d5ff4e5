import CPUKernels
import CPUKernelsAVX2
import CPUKernelsAVX512
import Tensor

extension CPUBackend {
    /// Applies `activation` elementwise (see ``Backend/activation(_:_:)``), a vector at a time in
    /// the backend's instruction set (`CPUKernels/Activations.swift`); libm's scalar
    /// `expf`/`erff` would make these ops several times slower than the memory traffic they need.
    public func activation(_ x: Tensor, _ activation: Activation) throws -> Tensor {
        let (result, out) = makeTensor(x.shape)
        let input = x.cpu
        parallelFor(x.count, grain: Self.elementGrain) { range in
            instructionSet.activate(activation, input + range.lowerBound, out + range.lowerBound,
                                    count: range.count)
        }
        return result
    }

    /// The GEGLU gate: `x [..., 2n]` -> `h * gelu(g)` with `(h, g)` the halves of the last axis
    /// (see ``Backend/geglu(_:)``).
    public func geglu(_ x: Tensor) throws -> Tensor {
        precondition(x.rank >= 1 && x.shape[x.rank - 1] % 2 == 0,
                     "geglu: the last axis of \(x.shape) must have an even extent")
        let width = x.shape[x.rank - 1] / 2
        var outShape = x.shape
        outShape[x.rank - 1] = width
        let (result, out) = makeTensor(outShape)
        guard width > 0 else { return result }
        let input = x.cpu
        let rows = x.count / (2 * width)
        parallelFor(rows, grain: max(1, Self.elementGrain / width)) { range in
            for row in range {
                let hidden = input + row * 2 * width
                instructionSet.gegluRow(hidden: hidden, gate: hidden + width, out + row * width, count: width)
            }
        }
        return result
    }

    /// `a + b` with `b` broadcast to `a`'s shape by NumPy rules (see ``Backend/add(_:_:)``).
    ///
    /// Axes are first collapsed into runs that `b` either matches or broadcasts, so every case
    /// becomes rows of `a` plus either a contiguous row of `b` (same shape, `[..., D] + [D]`) or
    /// one value of `b` per row (a per-channel bias `[N, C, H, W] + [C, 1, 1]`).
    public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let bShape = Shape.broadcast(b.shape, to: a.shape)
        let (result, out) = makeTensor(a.shape)
        guard a.count > 0 else { return result }

        // Runs of axes, outermost first: (extent, whether b broadcasts along it).
        var runs: [(extent: Int, broadcast: Bool)] = []
        for (extent, bExtent) in zip(a.shape, bShape) where extent != 1 {
            let broadcast = bExtent == 1
            if let last = runs.last, last.broadcast == broadcast {
                runs[runs.count - 1].extent *= extent
            } else {
                runs.append((extent, broadcast))
            }
        }
        let inner = runs.popLast() ?? (extent: 1, broadcast: false)
        // b's stride along each outer run (0 where it broadcasts).
        var bStrides = [Int](repeating: 0, count: runs.count)
        var running = inner.broadcast ? 1 : inner.extent
        for index in runs.indices.reversed() where !runs[index].broadcast {
            bStrides[index] = running
            running *= runs[index].extent
        }
        let outerExtents = runs.map(\.extent)

        // Work items are pieces of rows, so a single long row still spreads across threads.
        let pieceLength = min(inner.extent, 1 << 14)
        let piecesPerRow = (inner.extent + pieceLength - 1) / pieceLength
        let rows = outerExtents.reduce(1, *)
        let lhs = a.cpu, rhs = b.cpu
        parallelFor(rows * piecesPerRow, grain: max(1, Self.elementGrain / pieceLength)) { range in
            for item in range {
                let row = item / piecesPerRow
                let start = item % piecesPerRow * pieceLength
                let length = min(pieceLength, inner.extent - start)
                var bOffset = 0, rest = row
                for index in outerExtents.indices.reversed() {
                    bOffset += rest % outerExtents[index] * bStrides[index]
                    rest /= outerExtents[index]
                }
                let source = lhs + row * inner.extent + start, destination = out + row * inner.extent + start
                if inner.broadcast {
                    let value = rhs[bOffset]
                    for i in 0 ..< length { destination[i] = source[i] + value }
                } else {
                    let other = rhs + bOffset + start
                    for i in 0 ..< length { destination[i] = source[i] + other[i] }
                }
            }
        }
        return result
    }

    /// `x * factor` (see ``Backend/scale(_:by:)``).
    public func scale(_ x: Tensor, by factor: Float) throws -> Tensor {
        let (result, out) = makeTensor(x.shape)
        let input = x.cpu
        parallelFor(x.count, grain: Self.elementGrain) { range in
            for i in range { out[i] = input[i] * factor }
        }
        return result
    }
}

// MARK: Lane-wise math

/// The vector type of the kernels written in this module (elementwise arithmetic, normalisation,
/// data movement, Winograd transforms): eight lanes, one AVX register. The kernels generic over
/// the vector width (attention, narrow linear layers, activations) live in CPUKernels.
typealias FloatVector = SIMD8<Float>

/// Lanes of ``FloatVector``.
let vectorLanes = FloatVector.scalarCount

/// Loads a vector from a possibly unaligned address.
@inline(__always)
func loadVector(_ pointer: UnsafePointer<Float>) -> FloatVector {
    UnsafeRawPointer(pointer).loadUnaligned(as: FloatVector.self)
}

/// Stores a vector to a possibly unaligned address.
@inline(__always)
func storeVector(_ value: FloatVector, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: FloatVector.self)
}

// MARK: Activations

extension CPUBackend.InstructionSet {
    /// `out[i] = f(input[i])` for `i < count`, by this instruction set's kernels.
    func activate(_ kind: Activation, _ input: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                  count: Int) {
        switch self {
        case .avx512: AVX512.activate(kind, input, out, count: count)
        case .avx2: AVX2.activate(kind, input, out, count: count)
        }
    }

    /// `out[i] = f((input[i] - mean) * scale + shift)` for `i < count` (a group norm's affine
    /// step and its activation in one pass).
    func activateNormalized(_ kind: Activation, _ input: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                            count: Int, mean: Float, scale: Float, shift: Float) {
        switch self {
        case .avx512:
            AVX512.activateNormalized(kind, input, out, count: count, mean: mean, scale: scale, shift: shift)
        case .avx2:
            AVX2.activateNormalized(kind, input, out, count: count, mean: mean, scale: scale, shift: shift)
        }
    }

    /// One GEGLU row: `out[i] = hidden[i] * gelu(gate[i])` for `i < count`.
    func gegluRow(hidden: UnsafePointer<Float>, gate: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                  count: Int) {
        switch self {
        case .avx512: AVX512.gegluRow(hidden: hidden, gate: gate, out, count: count)
        case .avx2: AVX2.gegluRow(hidden: hidden, gate: gate, out, count: count)
        }
    }
}
