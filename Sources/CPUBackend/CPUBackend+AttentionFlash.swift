// The fused ("flash") attention kernel: scores, an online softmax and the weighted sum of values
// in one pass over the keys, a tile at a time, so no score row is ever written out in full.
//
// Per (batch row, head) the keys are packed transposed in chunks of 16 (`[Lk/16][d][16]`) and
// the values row-major with the head width rounded up to whole vectors (`[Lk][d']`); both stay
// in a core's L2 while that core works through the head's queries. Queries go in tiles of up
// to 64 rows, scaled by `scale * log2(e)` so that the softmax is a base-2 exponential. For each
// tile of 512 keys and each group of four query rows:
//   1. scores: a 4 x 16 register block of FMAs per 16 keys (broadcast query element times a
//      vector of 16 transposed keys), written to a small buffer that lives in L1;
//   2. softmax step: the bias added, the row maximum taken, the running maximum raised, and the
//      scores replaced by `2^(s - max)` with their sum added to the running sum;
//   3. values: the group's output accumulator (rescaled by `2^(old max - new max)`) plus the
//      weights times the tile's values, 4 rows x 16 channels in registers per step.
// The output is the accumulator divided by the running sum, or zero for a row whose keys were
// all masked.

extension CPUBackend {
    /// Runs the fused kernel for `problem`, in parallel over (batch row, head, query tile).
    func attendFlash(_ problem: AttentionProblem) {
        let p = problem
        let d = p.headWidth
        let tiling = FlashTiling(queries: p.queries, keys: p.keys, headWidth: d)
        let queryScale = p.scale * FlashTiling.log2e
        parallelFor(p.batch * p.heads * tiling.queryTiles) { items in
            let buffers = FlashBuffers(tiling)
            defer { buffers.deallocate() }
            var packedSequence = -1
            for item in items {
                let (sequence, queryTile) = item.quotientAndRemainder(dividingBy: tiling.queryTiles)
                let (row, head) = sequence.quotientAndRemainder(dividingBy: p.heads)
                // Consecutive items of a chunk share their (batch row, head) and its packed keys.
                let tile = QueryTile(row: row, head: head, firstQuery: queryTile * tiling.queryRows,
                                     rows: min(tiling.queryRows, p.queries - queryTile * tiling.queryRows),
                                     packs: sequence != packedSequence)
                packedSequence = sequence
                // Constant head widths let the compiler unroll the reductions over channels.
                switch d {
                case 8: attend(p, tile, width: HeadWidth8.self, queryScale: queryScale, tiling: tiling, buffers: buffers)
                case 16: attend(p, tile, width: HeadWidth16.self, queryScale: queryScale, tiling: tiling, buffers: buffers)
                case 32: attend(p, tile, width: HeadWidth32.self, queryScale: queryScale, tiling: tiling, buffers: buffers)
                case 64: attend(p, tile, width: HeadWidth64.self, queryScale: queryScale, tiling: tiling, buffers: buffers)
                default: attend(p, tile, width: AnyHeadWidth.self, queryScale: queryScale, tiling: tiling, buffers: buffers)
                }
            }
        }
    }
}

/// Copies one (batch row, head)'s keys, transposed in chunks of ``FlashTiling/keyChunk``, and
/// its values into the packed buffers. Padding (keys past `Lk`, channels past `d`) stays zero.
@inline(__always)
private func packKeysAndValues(_ p: AttentionProblem, row: Int, head: Int, d: Int, tiling: FlashTiling,
                               into buffers: FlashBuffers) {
    let chunk = FlashTiling.keyChunk
    let keyBase = p.key + row * p.keys * p.width + head * d
    let valueBase = p.value + row * p.keys * p.width + head * d
    for j in 0 ..< p.keys {
        let source = keyBase + j &* p.width
        let offset = (j / chunk) &* d &* chunk &+ j % chunk
        for c in 0 ..< d { buffers.keys[offset &+ c &* chunk] = source[c] }
        copy(valueBase + j &* p.width, to: buffers.values + j &* tiling.paddedWidth, count: d, scale: 1)
    }
}

/// `destination[0 ..< count] = scale * source[0 ..< count]`, a vector at a time: the rows here
/// are a head's few channels, too short for a `memcpy` call to pay.
@inline(__always)
private func copy(_ source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>, count: Int,
                  scale: Float) {
    var c = 0
    while c &+ vectorLanes <= count {
        storeVector(loadVector(source + c) * scale, destination + c)
        c &+= vectorLanes
    }
    while c < count {
        destination[c] = source[c] * scale
        c &+= 1
    }
}

/// One parallel item: `rows` queries from `firstQuery` of batch row `row`, head `head`;
/// `packs` when the (batch row, head)'s keys and values are not in the buffers yet.
private struct QueryTile {
    let row, head, firstQuery, rows: Int
    let packs: Bool
}

/// The head width as a type, so that generic specialisation turns it into a constant.
private protocol HeadWidth {
    /// The head width: a constant, or `runtime` for widths without a specialisation.
    static func value(_ runtime: Int) -> Int
}

private enum HeadWidth8: HeadWidth { static func value(_: Int) -> Int { 8 } }
private enum HeadWidth16: HeadWidth { static func value(_: Int) -> Int { 16 } }
private enum HeadWidth32: HeadWidth { static func value(_: Int) -> Int { 32 } }
private enum HeadWidth64: HeadWidth { static func value(_: Int) -> Int { 64 } }
private enum AnyHeadWidth: HeadWidth { static func value(_ runtime: Int) -> Int { runtime } }

/// Attends one query tile over all keys of its (batch row, head) and writes the tile's outputs.
@inline(never)
private func attend<Width: HeadWidth>(_ p: AttentionProblem, _ tile: QueryTile, width: Width.Type,
                                      queryScale: Float, tiling: FlashTiling, buffers: FlashBuffers) {
    let d = Width.value(p.headWidth)
    let (row, head, firstQuery, rows) = (tile.row, tile.head, tile.firstQuery, tile.rows)
    if tile.packs { packKeysAndValues(p, row: row, head: head, d: d, tiling: tiling, into: buffers) }
    let groupRows = FlashTiling.groupRows
    let groups = (rows + groupRows - 1) / groupRows
    let paddedRows = groups * groupRows
    let dp = tiling.paddedWidth
    let queries = buffers.queries, accumulators = buffers.accumulators

    // Rows past `rows` in the last group are zero queries whose results are dropped.
    let queryBase = p.query + (row * p.queries + firstQuery) * p.width + head * d
    for r in 0 ..< rows { copy(queryBase + r &* p.width, to: queries + r &* d, count: d, scale: queryScale) }
    (queries + rows * d).update(repeating: 0, count: (paddedRows - rows) * d)
    accumulators.update(repeating: 0, count: paddedRows * dp)
    buffers.maxima.update(repeating: -.infinity, count: paddedRows)
    buffers.sums.update(repeating: 0, count: paddedRows)

    var keyStart = 0
    while keyStart < p.keys {
        let tileKeys = min(FlashTiling.keyTile, p.keys - keyStart)
        for group in 0 ..< groups {
            let r0 = group * groupRows
            step(p, group: r0, of: tile, keyStart: keyStart, tileKeys: tileKeys, width: Width.self, buffers: buffers)
        }
        keyStart += tileKeys
    }

    let outBase = p.out + (row * p.queries + firstQuery) * p.width + head * d
    for r in 0 ..< rows {
        let sum = buffers.sums[r]
        // A row with every key masked has a zero sum: it attends to nothing and outputs zeros.
        copy(accumulators + r &* dp, to: outBase + r &* p.width, count: d, scale: sum > 0 ? 1 / sum : 0)
    }
}

/// One online-softmax step: the four query rows from `r0` of `tile` against the `tileKeys`
/// keys from `keyStart`. A function of its own so that the kernels it calls inline into it.
@inline(never)
private func step<Width: HeadWidth>(_ p: AttentionProblem, group r0: Int, of tile: QueryTile, keyStart: Int,
                                    tileKeys: Int, width: Width.Type, buffers: FlashBuffers) {
    let d = Width.value(p.headWidth)
    let dp = (d + vectorLanes - 1) / vectorLanes * vectorLanes
    let chunks = (tileKeys + FlashTiling.keyChunk - 1) / FlashTiling.keyChunk
    let paddedTileKeys = chunks * FlashTiling.keyChunk
    let keysT = buffers.keys + keyStart * d
    let scores = buffers.scores, maxima = buffers.maxima, sums = buffers.sums
    var rowMaxima = RowMaxima()
    for chunk in 0 ..< chunks {
        flashScores(queries: buffers.queries + r0 * d, width: Width.self, d: d,
                    keysT: keysT + chunk * d * FlashTiling.keyChunk,
                    scores: scores + chunk * FlashTiling.keyChunk, stride: FlashTiling.keyTile,
                    maxima: &rowMaxima)
    }
    // Without bias or padding keys, the maxima the score kernel collected are the tile's.
    var tileMaxima = rowMaxima.maxima()
    if p.bias != nil || tileKeys != paddedTileKeys {
        for r in 0 ..< FlashTiling.groupRows {
            let query = tile.firstQuery + r0 + r
            let bias = r0 + r < tile.rows ? p.bias.map { $0 + query * p.keys + keyStart } : nil
            tileMaxima[r] = prepareScores(scores + r * FlashTiling.keyTile, count: tileKeys,
                                          paddedCount: paddedTileKeys, bias: bias)
        }
    }
    var rescale = FloatVector(repeating: 1)
    var offsets = SIMD4<Float>()
    for r in 0 ..< FlashTiling.groupRows {
        let previous = maxima[r0 + r]
        let maximum = max(previous, tileMaxima[r])
        // All keys so far masked: subtracting 0 keeps every weight an exact 0 (never NaN).
        offsets[r] = maximum == -.infinity ? 0 : maximum
        rescale[r] = previous == maximum ? 1
            : previous == -.infinity ? 0 : fastExp2(FloatVector(repeating: previous - offsets[r]))[0]
        maxima[r0 + r] = maximum
    }
    let tileSums = exponentiateScores(scores, count: paddedTileKeys, minus: offsets)
    for r in 0 ..< FlashTiling.groupRows { sums[r0 + r] = sums[r0 + r] * rescale[r] + tileSums[r] }
    flashAccumulate(weights: scores, stride: FlashTiling.keyTile, keys: tileKeys,
                    values: buffers.values + keyStart * dp, paddedWidth: dp,
                    accumulators: buffers.accumulators + r0 * dp, rescale: rescale)
}

/// `scores[r * stride + (0 ..< 16)] = q_r · keysT` for the four query rows at `queries`
/// (`[4][d]`) and one chunk of 16 transposed keys (`[d][16]`): eight accumulators, each
/// broadcast query element feeding two FMAs. `maxima` collects each row's lane-wise maximum.
@inline(__always)
private func flashScores<Width: HeadWidth>(queries: UnsafePointer<Float>, width: Width.Type, d runtimeWidth: Int,
                                           keysT: UnsafePointer<Float>, scores: UnsafeMutablePointer<Float>,
                                           stride: Int, maxima: inout RowMaxima) {
    let d = Width.value(runtimeWidth)
    var s00 = FloatVector(), s01 = FloatVector(), s10 = FloatVector(), s11 = FloatVector()
    var s20 = FloatVector(), s21 = FloatVector(), s30 = FloatVector(), s31 = FloatVector()
    for c in 0 ..< d {
        let k0 = loadVector(keysT + c &* 16)
        let k1 = loadVector(keysT + (c &* 16 &+ 8))
        let q0 = FloatVector(repeating: queries[c])
        s00 = s00.addingProduct(q0, k0)
        s01 = s01.addingProduct(q0, k1)
        let q1 = FloatVector(repeating: queries[d &+ c])
        s10 = s10.addingProduct(q1, k0)
        s11 = s11.addingProduct(q1, k1)
        let q2 = FloatVector(repeating: queries[2 &* d &+ c])
        s20 = s20.addingProduct(q2, k0)
        s21 = s21.addingProduct(q2, k1)
        let q3 = FloatVector(repeating: queries[3 &* d &+ c])
        s30 = s30.addingProduct(q3, k0)
        s31 = s31.addingProduct(q3, k1)
    }
    maxima.include(s00, s01, s10, s11, s20, s21, s30, s31)
    storeVector(s00, scores)
    storeVector(s01, scores + 8)
    storeVector(s10, scores + stride)
    storeVector(s11, scores + stride + 8)
    storeVector(s20, scores + 2 * stride)
    storeVector(s21, scores + 2 * stride + 8)
    storeVector(s30, scores + 3 * stride)
    storeVector(s31, scores + 3 * stride + 8)
}

/// Lane-wise running maxima of the four rows of a group's scores.
private struct RowMaxima {
    var row0 = FloatVector(repeating: -.infinity), row1 = FloatVector(repeating: -.infinity)
    var row2 = FloatVector(repeating: -.infinity), row3 = FloatVector(repeating: -.infinity)

    /// Takes in two vectors of scores per row.
    @inline(__always)
    mutating func include(_ s00: FloatVector, _ s01: FloatVector, _ s10: FloatVector, _ s11: FloatVector,
                          _ s20: FloatVector, _ s21: FloatVector, _ s30: FloatVector, _ s31: FloatVector) {
        row0 = laneMax(row0, laneMax(s00, s01))
        row1 = laneMax(row1, laneMax(s10, s11))
        row2 = laneMax(row2, laneMax(s20, s21))
        row3 = laneMax(row3, laneMax(s30, s31))
    }

    /// The largest score seen in each row.
    @inline(__always)
    func maxima() -> SIMD4<Float> {
        SIMD4(horizontalMax(row0), horizontalMax(row1), horizontalMax(row2), horizontalMax(row3))
    }
}

/// The lane-wise maximum (one `vmaxps`; the stdlib's `pointwiseMax` is a generic scalar loop).
@inline(__always)
private func laneMax(_ a: FloatVector, _ b: FloatVector) -> FloatVector {
    a.replacing(with: b, where: b .> a)
}

/// Adds `bias * log2(e)` (when given) to `row[0 ..< count]`, sets `row[count ..< paddedCount]`
/// to `-infinity` so that padding keys weigh nothing, and returns the row's maximum.
@inline(__always)
private func prepareScores(_ row: UnsafeMutablePointer<Float>, count: Int, paddedCount: Int,
                           bias: UnsafePointer<Float>?) -> Float {
    let vectorEnd = count - count % vectorLanes
    var maxima = FloatVector(repeating: -.infinity)
    var index = 0
    if let bias {
        let log2e = FloatVector(repeating: FlashTiling.log2e)
        while index < vectorEnd {
            let biased = loadVector(row + index).addingProduct(loadVector(bias + index), log2e)
            storeVector(biased, row + index)
            maxima = laneMax(maxima, biased)
            index += vectorLanes
        }
        while index < count {
            row[index] += bias[index] * FlashTiling.log2e
            index += 1
        }
    } else {
        while index < vectorEnd {
            maxima = laneMax(maxima, loadVector(row + index))
            index += vectorLanes
        }
    }
    var maximum = horizontalMax(maxima)
    while index < count {
        maximum = max(maximum, row[index])
        index += 1
    }
    (row + count).update(repeating: -.infinity, count: paddedCount - count)
    return maximum
}

/// Replaces row `r` of a group's scores (`[4][keyTile]`, the first `count` of each, whole
/// chunks) by `2^(score - offsets[r])` and returns each row's sum. One call per group: the
/// constants of the polynomial load once for all four rows.
private func exponentiateScores(_ scores: UnsafeMutablePointer<Float>, count: Int,
                                minus offsets: SIMD4<Float>) -> SIMD4<Float> {
    var sums = SIMD4<Float>()
    for r in 0 ..< FlashTiling.groupRows {
        let row = scores + r &* FlashTiling.keyTile
        let shift = FloatVector(repeating: offsets[r])
        var sum0 = FloatVector(), sum1 = FloatVector()
        var index = 0
        // Two independent chains hide the latency of the polynomial.
        while index < count {
            let e0 = fastExp2(loadVector(row + index) - shift)
            let e1 = fastExp2(loadVector(row + (index &+ vectorLanes)) - shift)
            storeVector(e0, row + index)
            storeVector(e1, row + (index &+ vectorLanes))
            sum0 += e0
            sum1 += e1
            index &+= FlashTiling.keyChunk
        }
        sums[r] = horizontalSum(sum0 + sum1)
    }
    return sums
}

/// `accumulators[r] = accumulators[r] * rescale[r] + weights[r] · values` for the four rows of a
/// group: `weights` `[4][stride]` (the first `keys` used), `values` `[keys][paddedWidth]`,
/// `accumulators` `[4][paddedWidth]`. Two vectors of channels at a time (one for an odd last
/// vector), so each broadcast weight feeds two FMAs.
@inline(__always)
private func flashAccumulate(weights: UnsafePointer<Float>, stride: Int, keys: Int, values: UnsafePointer<Float>,
                             paddedWidth: Int, accumulators: UnsafeMutablePointer<Float>, rescale: FloatVector) {
    let w0 = weights, w1 = weights + stride, w2 = weights + 2 * stride, w3 = weights + 3 * stride
    let o0 = accumulators, o1 = accumulators + paddedWidth
    let o2 = accumulators + 2 * paddedWidth, o3 = accumulators + 3 * paddedWidth
    let f0 = FloatVector(repeating: rescale[0]), f1 = FloatVector(repeating: rescale[1])
    let f2 = FloatVector(repeating: rescale[2]), f3 = FloatVector(repeating: rescale[3])
    var c = 0
    while c + 2 * vectorLanes <= paddedWidth {
        var a00 = loadVector(o0 + c) * f0, a01 = loadVector(o0 + c + 8) * f0
        var a10 = loadVector(o1 + c) * f1, a11 = loadVector(o1 + c + 8) * f1
        var a20 = loadVector(o2 + c) * f2, a21 = loadVector(o2 + c + 8) * f2
        var a30 = loadVector(o3 + c) * f3, a31 = loadVector(o3 + c + 8) * f3
        var v = values + c
        for j in 0 ..< keys {
            let v0 = loadVector(v), v1 = loadVector(v + 8)
            let p0 = FloatVector(repeating: w0[j])
            a00 = a00.addingProduct(p0, v0)
            a01 = a01.addingProduct(p0, v1)
            let p1 = FloatVector(repeating: w1[j])
            a10 = a10.addingProduct(p1, v0)
            a11 = a11.addingProduct(p1, v1)
            let p2 = FloatVector(repeating: w2[j])
            a20 = a20.addingProduct(p2, v0)
            a21 = a21.addingProduct(p2, v1)
            let p3 = FloatVector(repeating: w3[j])
            a30 = a30.addingProduct(p3, v0)
            a31 = a31.addingProduct(p3, v1)
            v += paddedWidth
        }
        storeVector(a00, o0 + c)
        storeVector(a01, o0 + c + 8)
        storeVector(a10, o1 + c)
        storeVector(a11, o1 + c + 8)
        storeVector(a20, o2 + c)
        storeVector(a21, o2 + c + 8)
        storeVector(a30, o3 + c)
        storeVector(a31, o3 + c + 8)
        c += 2 * vectorLanes
    }
    if c < paddedWidth {
        // Even and odd keys go to separate accumulators: four dependency chains alone would
        // leave the FMA units waiting on their latency.
        var a0 = loadVector(o0 + c) * f0, a1 = loadVector(o1 + c) * f1
        var a2 = loadVector(o2 + c) * f2, a3 = loadVector(o3 + c) * f3
        var b0 = FloatVector(), b1 = FloatVector(), b2 = FloatVector(), b3 = FloatVector()
        var v = values + c
        var j = 0
        while j + 1 < keys {
            let v0 = loadVector(v), v1 = loadVector(v + paddedWidth)
            a0 = a0.addingProduct(FloatVector(repeating: w0[j]), v0)
            a1 = a1.addingProduct(FloatVector(repeating: w1[j]), v0)
            a2 = a2.addingProduct(FloatVector(repeating: w2[j]), v0)
            a3 = a3.addingProduct(FloatVector(repeating: w3[j]), v0)
            b0 = b0.addingProduct(FloatVector(repeating: w0[j + 1]), v1)
            b1 = b1.addingProduct(FloatVector(repeating: w1[j + 1]), v1)
            b2 = b2.addingProduct(FloatVector(repeating: w2[j + 1]), v1)
            b3 = b3.addingProduct(FloatVector(repeating: w3[j + 1]), v1)
            v += 2 * paddedWidth
            j += 2
        }
        if j < keys {
            let v0 = loadVector(v)
            a0 = a0.addingProduct(FloatVector(repeating: w0[j]), v0)
            a1 = a1.addingProduct(FloatVector(repeating: w1[j]), v0)
            a2 = a2.addingProduct(FloatVector(repeating: w2[j]), v0)
            a3 = a3.addingProduct(FloatVector(repeating: w3[j]), v0)
        }
        storeVector(a0 + b0, o0 + c)
        storeVector(a1 + b1, o1 + c)
        storeVector(a2 + b2, o2 + c)
        storeVector(a3 + b3, o3 + c)
    }
}

/// `2^x` per lane, for `x <= 0` (`-infinity` included; the kernel only exponentiates
/// max-subtracted scores). Relative error below 2e-7 down to `2^-126`; `x <= -127` gives
/// exactly 0.
///
/// Cheaper than ``vectorExp(_:)``: the caller folds `log2(e)` into its scale, and the range
/// reduction needs no clamp at the top. Adding `1.5 * 2^23` rounds `x` to the nearest integer
/// `n` in the low mantissa bits of `shifted`; `shifted << 23` is then exactly `n << 23` (the
/// constant's own bits shift out), which added to the bits of `p(f) ≈ 2^f`, `f = x - n` in
/// `[-0.5, 0.5]`, multiplies it by `2^n`. At the clamp `x = -127`, `f = 0` and `p = 1` exactly,
/// so the sum of the bits is 0: a masked score weighs exactly nothing. `p` is a degree-5
/// polynomial with constant term 1, fitted for relative error on `[-0.5, 0.5]`.
@inline(__always)
func fastExp2(_ x: FloatVector) -> FloatVector {
    let lowest = FloatVector(repeating: -127)
    // Compare-and-select in this order compiles to one `vmaxps` and lets a NaN through.
    let clamped = x.replacing(with: lowest, where: lowest .> x)
    let magic = FloatVector(repeating: 12_582_912)
    let shifted = clamped + magic
    let f = clamped - (shifted - magic)
    var p = FloatVector(repeating: 1.326_472_4e-3)
    p = FloatVector(repeating: 9.671_513e-3).addingProduct(p, f)
    p = FloatVector(repeating: 5.550_733_6e-2).addingProduct(p, f)
    p = FloatVector(repeating: 2.402_224_2e-1).addingProduct(p, f)
    p = FloatVector(repeating: 6.931_470_0e-1).addingProduct(p, f)
    p = FloatVector(repeating: 1).addingProduct(p, f)
    let scaled = unsafeBitCast(p, to: SIMD8<Int32>.self) &+ (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &<< 23)
    return unsafeBitCast(scaled, to: FloatVector.self)
}

/// Block sizes of the fused kernel for one call.
struct FlashTiling {
    /// `log2(e)`: scores are kept in base 2 so the softmax needs `2^x`, not `e^x`.
    static let log2e: Float = 1.442_695_04
    /// Query rows per register block (four rows x two vectors of accumulators).
    static let groupRows = 4
    /// Keys per register block of scores: two vectors.
    static let keyChunk = 16
    /// Keys per online-softmax step. The step's fixed costs (a row maximum, a rescale) spread
    /// over this many keys, and its scores (`4 x 512` floats, 8 KiB) stay in L1.
    static let keyTile = 512

    /// Query rows per parallel item: enough to reuse each key tile many times, few enough
    /// that the items spread over the cores even for one (batch row, head).
    let queryRows: Int
    /// Query tiles per (batch row, head).
    let queryTiles: Int
    /// Keys rounded up to a whole number of chunks.
    let paddedKeys: Int
    /// The head width `d` rounded up to whole vectors: the row length of packed values and
    /// of the output accumulators.
    let paddedWidth: Int
    /// The head width `d`.
    let headWidth: Int

    init(queries: Int, keys: Int, headWidth: Int) {
        let groups = (queries + Self.groupRows - 1) / Self.groupRows
        queryRows = min(groups, 16) * Self.groupRows
        queryTiles = (queries + queryRows - 1) / queryRows
        paddedKeys = (keys + Self.keyChunk - 1) / Self.keyChunk * Self.keyChunk
        paddedWidth = (headWidth + vectorLanes - 1) / vectorLanes * vectorLanes
        self.headWidth = headWidth
    }
}

/// One parallel chunk's scratch memory for the fused kernel.
private struct FlashBuffers {
    /// Packed transposed keys of the current (batch row, head): `[paddedKeys / 16][d][16]`.
    let keys: UnsafeMutablePointer<Float>
    /// Packed values of the current (batch row, head): `[paddedKeys][paddedWidth]`.
    let values: UnsafeMutablePointer<Float>
    /// The query tile, scaled: `[queryRows][d]`.
    let queries: UnsafeMutablePointer<Float>
    /// Unnormalised outputs of the query tile: `[queryRows][paddedWidth]`.
    let accumulators: UnsafeMutablePointer<Float>
    /// Running maximum and running sum per query row of the tile.
    let maxima, sums: UnsafeMutablePointer<Float>
    /// One group's scores, then weights, for one key tile: `[4][keyTile]`.
    let scores: UnsafeMutablePointer<Float>

    init(_ tiling: FlashTiling) {
        let d = tiling.headWidth
        keys = .allocate(capacity: tiling.paddedKeys * d)
        values = .allocate(capacity: tiling.paddedKeys * tiling.paddedWidth)
        queries = .allocate(capacity: tiling.queryRows * d)
        accumulators = .allocate(capacity: tiling.queryRows * tiling.paddedWidth)
        maxima = .allocate(capacity: tiling.queryRows)
        sums = .allocate(capacity: tiling.queryRows)
        scores = .allocate(capacity: FlashTiling.groupRows * FlashTiling.keyTile)
        // Packing overwrites only real keys and channels; the padding must read as zeros.
        keys.initialize(repeating: 0, count: tiling.paddedKeys * d)
        values.initialize(repeating: 0, count: tiling.paddedKeys * tiling.paddedWidth)
    }

    func deallocate() {
        for buffer in [keys, values, queries, accumulators, maxima, sums, scores] { buffer.deallocate() }
    }
}
