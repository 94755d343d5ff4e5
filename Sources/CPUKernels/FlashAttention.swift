// The fused ("flash") attention kernel: scores, an online softmax and the weighted sum of values
// in one pass over the keys, a tile at a time, so no score row is ever written out in full.
// Generic over the vector instruction set (`ISA`, `L` lanes per vector).
//
// Per (batch row, head) the keys are packed transposed in chunks of 2L (`[Lk/2L][d][2L]`) and
// the values row-major with the head width rounded up to whole vectors (`[Lk][d']`), or, for heads
// narrower than a vector over 256 keys or more, transposed like the keys (step 3 then runs its
// vectors over keys, not channels); both stay in a core's L2 while that core works through the
// head's queries. Queries go in tiles of up
// to 64 rows, scaled by `scale * log2(e)` so that the softmax is a base-2 exponential. For each
// tile of 512 keys and each group of four query rows:
//   1. scores: a 4 x 2L register block of FMAs per 2L keys (broadcast query element times two
//      vectors of transposed keys), written to a small buffer that lives in L1;
//   2. softmax step: the bias added, the row maximum taken, the running maximum raised, and the
//      scores replaced by `2^(s - max)` with their sum added to the running sum;
//   3. values: the group's output accumulator (rescaled by `2^(old max - new max)`) plus the
//      weights times the tile's values, 4 rows x 2L channels in registers per step.
// The output is the accumulator divided by the running sum, or zero for a row whose keys were
// all masked.

/// The fused attention kernel for one instruction set; the caller runs ``items(_:)`` work items
/// (a (batch row, head, query tile) each) in parallel, in contiguous ranges.
@frozen @usableFromInline
package enum FlashAttention<ISA: VectorISA> {
    /// Work items of `problem`: (batch row, head, query tile) triples.
    @inlinable
    package static func items(_ problem: AttentionProblem) -> Int {
        let tiling = FlashTiling(problem, lanes: ISA.lanes)
        return problem.batch * problem.heads * tiling.queryTiles
    }

    /// Runs the work items `items` of `problem`. Consecutive items share their (batch row,
    /// head), so a range packs each head's keys once.
    @inlinable
    package static func run(_ problem: AttentionProblem, items: Range<Int>) {
        let p = problem
        let tiling = FlashTiling(p, lanes: ISA.lanes)
        let queryScale = p.scale * FlashTiling.log2e
        let buffers = FlashBuffers(tiling)
        defer { buffers.deallocate() }
        var packedSequence = -1
        for item in items {
            let (sequence, queryTile) = item.quotientAndRemainder(dividingBy: tiling.queryTiles)
            let (row, head) = sequence.quotientAndRemainder(dividingBy: p.heads)
            let tile = QueryTile(row: row, head: head, firstQuery: queryTile * tiling.queryRows,
                                 rows: min(tiling.queryRows, p.queries - queryTile * tiling.queryRows),
                                 packs: sequence != packedSequence)
            packedSequence = sequence
            // Constant head widths let the compiler unroll the reductions over channels.
            switch p.headWidth {
            case 4: attend(p, tile, width: HeadWidth4.self, queryScale: queryScale, tiling: tiling, buffers: buffers)
            case 8: attend(p, tile, width: HeadWidth8.self, queryScale: queryScale, tiling: tiling, buffers: buffers)
            case 16: attend(p, tile, width: HeadWidth16.self, queryScale: queryScale, tiling: tiling, buffers: buffers)
            case 32: attend(p, tile, width: HeadWidth32.self, queryScale: queryScale, tiling: tiling, buffers: buffers)
            case 64: attend(p, tile, width: HeadWidth64.self, queryScale: queryScale, tiling: tiling, buffers: buffers)
            default: attend(p, tile, width: AnyHeadWidth.self, queryScale: queryScale, tiling: tiling, buffers: buffers)
            }
        }
    }

    /// Copies one (batch row, head)'s keys, transposed in chunks, and its values into the packed
    /// buffers. Padding (keys past `Lk`, channels past `d`) stays zero.
    @inlinable @inline(__always)
    static func packKeysAndValues(_ p: AttentionProblem, row: Int, head: Int, d: Int, tiling: FlashTiling,
                                  into buffers: FlashBuffers) {
        let chunk = tiling.keyChunk
        let keyBase = p.key + row * p.keys * p.width + head * d
        let valueBase = p.value + row * p.keys * p.width + head * d
        for j in 0 ..< p.keys {
            let source = keyBase + j &* p.width
            let offset = (j / chunk) &* d &* chunk &+ j % chunk
            for c in 0 ..< d { buffers.keys[offset &+ c &* chunk] = source[c] }
            if tiling.transposesValues {
                let values = valueBase + j &* p.width
                for c in 0 ..< d { buffers.values[offset &+ c &* chunk] = values[c] }
            } else {
                copy(valueBase + j &* p.width, to: buffers.values + j &* tiling.paddedWidth, count: d, scale: 1)
            }
        }
    }

    /// `destination[0 ..< count] = scale * source[0 ..< count]`, a vector at a time: the rows
    /// here are a head's few channels, too short for a `memcpy` call to pay.
    @inlinable @inline(__always)
    static func copy(_ source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>, count: Int,
                     scale: Float) {
        var c = 0
        while c &+ ISA.lanes <= count {
            ISA.store(ISA.load(source + c) * scale, destination + c)
            c &+= ISA.lanes
        }
        while c < count {
            destination[c] = source[c] * scale
            c &+= 1
        }
    }

    /// Attends one query tile over all keys of its (batch row, head) and writes the tile's outputs.
    @inlinable @inline(never)
    static func attend<Width: HeadWidth>(_ p: AttentionProblem, _ tile: QueryTile, width: Width.Type,
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
        if tiling.transposesValues { buffers.partials.update(repeating: 0, count: paddedRows * d * ISA.lanes) }
        buffers.maxima.update(repeating: -.infinity, count: paddedRows)
        buffers.sums.update(repeating: 0, count: paddedRows)

        var keyStart = 0
        while keyStart < p.keys {
            let tileKeys = min(FlashTiling.keyTile, p.keys - keyStart)
            for group in 0 ..< groups {
                let r0 = group * groupRows
                step(p, group: r0, of: tile, keyStart: keyStart, tileKeys: tileKeys, width: Width.self,
                     tiling: tiling, buffers: buffers)
            }
            keyStart += tileKeys
        }

        if tiling.transposesValues {
            sumPartials(buffers.partials, rows: rows, d: d, into: accumulators, paddedWidth: dp)
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
    @inlinable @inline(never)
    static func step<Width: HeadWidth>(_ p: AttentionProblem, group r0: Int, of tile: QueryTile, keyStart: Int,
                                       tileKeys: Int, width: Width.Type, tiling: FlashTiling,
                                       buffers: FlashBuffers) {
        let d = Width.value(p.headWidth)
        let keyChunk = 2 * ISA.lanes
        let dp = (d + ISA.lanes - 1) / ISA.lanes * ISA.lanes
        let chunks = (tileKeys + keyChunk - 1) / keyChunk
        let paddedTileKeys = chunks * keyChunk
        let keysT = buffers.keys + keyStart * d
        let scores = buffers.scores, maxima = buffers.maxima, sums = buffers.sums
        var rowMaxima = RowMaxima()
        for chunk in 0 ..< chunks {
            scoreChunk(queries: buffers.queries + r0 * d, width: Width.self, d: d,
                       keysT: keysT + chunk * d * keyChunk,
                       scores: scores + chunk * keyChunk, stride: FlashTiling.keyTile,
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
        var rescale = SIMD4<Float>(repeating: 1)
        var offsets = SIMD4<Float>()
        for r in 0 ..< FlashTiling.groupRows {
            let previous = maxima[r0 + r]
            let maximum = max(previous, tileMaxima[r])
            // All keys so far masked: subtracting 0 keeps every weight an exact 0 (never NaN).
            offsets[r] = maximum == -.infinity ? 0 : maximum
            rescale[r] = previous == maximum ? 1
                : previous == -.infinity ? 0 : ISA.exp2(ISA.Vector(repeating: previous - offsets[r]))[0]
            maxima[r0 + r] = maximum
        }
        let tileSums = exponentiateScores(scores, count: paddedTileKeys, minus: offsets)
        for r in 0 ..< FlashTiling.groupRows { sums[r0 + r] = sums[r0 + r] * rescale[r] + tileSums[r] }
        if tiling.transposesValues {
            accumulateNarrow(weights: scores, stride: FlashTiling.keyTile, chunks: chunks,
                             valuesT: buffers.values + keyStart * d, d: d,
                             partials: buffers.partials + r0 * d * ISA.lanes, rescale: rescale)
        } else {
            accumulate(weights: scores, stride: FlashTiling.keyTile, keys: tileKeys,
                       values: buffers.values + keyStart * dp, paddedWidth: dp,
                       accumulators: buffers.accumulators + r0 * dp, rescale: rescale)
        }
    }

    /// ``accumulate(weights:stride:keys:values:paddedWidth:accumulators:rescale:)`` for heads
    /// narrower than a vector, whose values are packed transposed like the keys
    /// (`[keys / 2L][d][2L]`): vectors run over keys, so no lane is wasted on padding channels.
    /// `partials` (`[4][d][L]`) holds each (row, channel)'s sum as a vector of partial sums,
    /// rescaled and extended here, its lanes added up only once all keys are in
    /// (``sumPartials(_:rows:d:into:paddedWidth:)``). Per pair of channels, eight accumulators
    /// (four rows x two channels) take one FMA per weight vector and value vector. Weights past
    /// the tile's keys are 0.
    @inlinable @inline(__always)
    static func accumulateNarrow(weights: UnsafePointer<Float>, stride: Int, chunks: Int,
                                 valuesT: UnsafePointer<Float>, d: Int, partials: UnsafeMutablePointer<Float>,
                                 rescale: SIMD4<Float>) {
        let l = ISA.lanes
        let f0 = ISA.Vector(repeating: rescale[0]), f1 = ISA.Vector(repeating: rescale[1])
        let f2 = ISA.Vector(repeating: rescale[2]), f3 = ISA.Vector(repeating: rescale[3])
        let o0 = partials, o1 = partials + d &* l, o2 = partials + 2 &* d &* l, o3 = partials + 3 &* d &* l
        var c = 0
        while c < d {
            // An odd last channel pairs with itself; only its first result is kept.
            let c1 = c + 1 < d ? c + 1 : c
            var a00 = ISA.load(o0 + c &* l) * f0, a01 = ISA.load(o0 + c1 &* l) * f0
            var a10 = ISA.load(o1 + c &* l) * f1, a11 = ISA.load(o1 + c1 &* l) * f1
            var a20 = ISA.load(o2 + c &* l) * f2, a21 = ISA.load(o2 + c1 &* l) * f2
            var a30 = ISA.load(o3 + c &* l) * f3, a31 = ISA.load(o3 + c1 &* l) * f3
            var v0 = valuesT + c &* 2 &* l, v1 = valuesT + c1 &* 2 &* l
            var w = weights
            for _ in 0 ..< 2 &* chunks {
                let x0 = ISA.load(v0), x1 = ISA.load(v1)
                let p0 = ISA.load(w), p1 = ISA.load(w + stride)
                let p2 = ISA.load(w + 2 &* stride), p3 = ISA.load(w + 3 &* stride)
                a00 = a00.addingProduct(p0, x0)
                a01 = a01.addingProduct(p0, x1)
                a10 = a10.addingProduct(p1, x0)
                a11 = a11.addingProduct(p1, x1)
                a20 = a20.addingProduct(p2, x0)
                a21 = a21.addingProduct(p2, x1)
                a30 = a30.addingProduct(p3, x0)
                a31 = a31.addingProduct(p3, x1)
                // The chunk's second half follows its first; the next chunk is d rows on.
                let step = (w - weights) / l & 1 == 0 ? l : (2 &* d &- 1) &* l
                v0 += step
                v1 += step
                w += l
            }
            ISA.store(a01, o0 + c1 &* l)
            ISA.store(a11, o1 + c1 &* l)
            ISA.store(a21, o2 + c1 &* l)
            ISA.store(a31, o3 + c1 &* l)
            ISA.store(a00, o0 + c &* l)
            ISA.store(a10, o1 + c &* l)
            ISA.store(a20, o2 + c &* l)
            ISA.store(a30, o3 + c &* l)
            c += 2
        }
    }

    /// `accumulators[r][c] = sum of the lanes of partials[r][c]` for the tile's rows: the
    /// narrow-head path's unnormalised outputs, in the layout the wide path leaves them.
    @inlinable
    static func sumPartials(_ partials: UnsafePointer<Float>, rows: Int, d: Int,
                            into accumulators: UnsafeMutablePointer<Float>, paddedWidth: Int) {
        for r in 0 ..< rows {
            for c in 0 ..< d {
                accumulators[r &* paddedWidth &+ c] = ISA.horizontalSum(ISA.load(partials + (r &* d &+ c) &* ISA.lanes))
            }
        }
    }

    /// `scores[r * stride + (0 ..< 2L)] = q_r · keysT` for the four query rows at `queries`
    /// (`[4][d]`) and one chunk of 2L transposed keys (`[d][2L]`): eight accumulators, each
    /// broadcast query element feeding two FMAs. `maxima` collects each row's lane-wise maximum.
    @inlinable @inline(__always)
    static func scoreChunk<Width: HeadWidth>(queries: UnsafePointer<Float>, width: Width.Type, d runtimeWidth: Int,
                                             keysT: UnsafePointer<Float>, scores: UnsafeMutablePointer<Float>,
                                             stride: Int, maxima: inout RowMaxima) {
        let d = Width.value(runtimeWidth)
        let l = ISA.lanes
        var s00 = ISA.Vector(), s01 = ISA.Vector(), s10 = ISA.Vector(), s11 = ISA.Vector()
        var s20 = ISA.Vector(), s21 = ISA.Vector(), s30 = ISA.Vector(), s31 = ISA.Vector()
        for c in 0 ..< d {
            let k0 = ISA.load(keysT + c &* 2 &* l)
            let k1 = ISA.load(keysT + (c &* 2 &* l &+ l))
            let q0 = ISA.Vector(repeating: queries[c])
            s00 = s00.addingProduct(q0, k0)
            s01 = s01.addingProduct(q0, k1)
            let q1 = ISA.Vector(repeating: queries[d &+ c])
            s10 = s10.addingProduct(q1, k0)
            s11 = s11.addingProduct(q1, k1)
            let q2 = ISA.Vector(repeating: queries[2 &* d &+ c])
            s20 = s20.addingProduct(q2, k0)
            s21 = s21.addingProduct(q2, k1)
            let q3 = ISA.Vector(repeating: queries[3 &* d &+ c])
            s30 = s30.addingProduct(q3, k0)
            s31 = s31.addingProduct(q3, k1)
        }
        maxima.include(s00, s01, s10, s11, s20, s21, s30, s31)
        ISA.store(s00, scores)
        ISA.store(s01, scores + l)
        ISA.store(s10, scores + stride)
        ISA.store(s11, scores + stride + l)
        ISA.store(s20, scores + 2 * stride)
        ISA.store(s21, scores + 2 * stride + l)
        ISA.store(s30, scores + 3 * stride)
        ISA.store(s31, scores + 3 * stride + l)
    }

    /// Lane-wise running maxima of the four rows of a group's scores.
    @frozen @usableFromInline
    struct RowMaxima {
        @usableFromInline var row0, row1, row2, row3: ISA.Vector

        @inlinable @inline(__always)
        init() {
            let lowest = ISA.Vector(repeating: -.infinity)
            (row0, row1, row2, row3) = (lowest, lowest, lowest, lowest)
        }

        /// Takes in two vectors of scores per row.
        @inlinable @inline(__always)
        mutating func include(_ s00: ISA.Vector, _ s01: ISA.Vector, _ s10: ISA.Vector, _ s11: ISA.Vector,
                              _ s20: ISA.Vector, _ s21: ISA.Vector, _ s30: ISA.Vector, _ s31: ISA.Vector) {
            row0 = ISA.laneMax(row0, ISA.laneMax(s00, s01))
            row1 = ISA.laneMax(row1, ISA.laneMax(s10, s11))
            row2 = ISA.laneMax(row2, ISA.laneMax(s20, s21))
            row3 = ISA.laneMax(row3, ISA.laneMax(s30, s31))
        }

        /// The largest score seen in each row.
        @inlinable @inline(__always)
        func maxima() -> SIMD4<Float> {
            SIMD4(ISA.horizontalMax(row0), ISA.horizontalMax(row1), ISA.horizontalMax(row2), ISA.horizontalMax(row3))
        }
    }

    /// Adds `bias * log2(e)` (when given) to `row[0 ..< count]`, sets `row[count ..< paddedCount]`
    /// to `-infinity` so that padding keys weigh nothing, and returns the row's maximum.
    @inlinable @inline(__always)
    static func prepareScores(_ row: UnsafeMutablePointer<Float>, count: Int, paddedCount: Int,
                              bias: UnsafePointer<Float>?) -> Float {
        let vectorEnd = count - count % ISA.lanes
        var maxima = ISA.Vector(repeating: -.infinity)
        var index = 0
        if let bias {
            let log2e = ISA.Vector(repeating: FlashTiling.log2e)
            while index < vectorEnd {
                let biased = ISA.load(row + index).addingProduct(ISA.load(bias + index), log2e)
                ISA.store(biased, row + index)
                maxima = ISA.laneMax(maxima, biased)
                index += ISA.lanes
            }
            while index < count {
                row[index] += bias[index] * FlashTiling.log2e
                index += 1
            }
        } else {
            while index < vectorEnd {
                maxima = ISA.laneMax(maxima, ISA.load(row + index))
                index += ISA.lanes
            }
        }
        var maximum = ISA.horizontalMax(maxima)
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
    @inlinable
    static func exponentiateScores(_ scores: UnsafeMutablePointer<Float>, count: Int,
                                   minus offsets: SIMD4<Float>) -> SIMD4<Float> {
        let l = ISA.lanes
        var sums = SIMD4<Float>()
        for r in 0 ..< FlashTiling.groupRows {
            let row = scores + r &* FlashTiling.keyTile
            let shift = ISA.Vector(repeating: offsets[r])
            var sum0 = ISA.Vector(), sum1 = ISA.Vector()
            var index = 0
            // Two independent chains hide the latency of the polynomial.
            while index < count {
                let e0 = ISA.exp2Weight(ISA.load(row + index) - shift)
                let e1 = ISA.exp2Weight(ISA.load(row + (index &+ l)) - shift)
                ISA.store(e0, row + index)
                ISA.store(e1, row + (index &+ l))
                sum0 += e0
                sum1 += e1
                index &+= 2 &* l
            }
            sums[r] = ISA.horizontalSum(sum0 + sum1)
        }
        return sums
    }

    /// `accumulators[r] = accumulators[r] * rescale[r] + weights[r] · values` for the four rows
    /// of a group: `weights` `[4][stride]` (the first `keys` used), `values`
    /// `[keys][paddedWidth]`, `accumulators` `[4][paddedWidth]`. Two vectors of channels at a
    /// time (one for an odd last vector), so each broadcast weight feeds two FMAs.
    @inlinable @inline(__always)
    static func accumulate(weights: UnsafePointer<Float>, stride: Int, keys: Int, values: UnsafePointer<Float>,
                           paddedWidth: Int, accumulators: UnsafeMutablePointer<Float>, rescale: SIMD4<Float>) {
        let l = ISA.lanes
        let w0 = weights, w1 = weights + stride, w2 = weights + 2 * stride, w3 = weights + 3 * stride
        let o0 = accumulators, o1 = accumulators + paddedWidth
        let o2 = accumulators + 2 * paddedWidth, o3 = accumulators + 3 * paddedWidth
        let f0 = ISA.Vector(repeating: rescale[0]), f1 = ISA.Vector(repeating: rescale[1])
        let f2 = ISA.Vector(repeating: rescale[2]), f3 = ISA.Vector(repeating: rescale[3])
        var c = 0
        while c + 2 * l <= paddedWidth {
            var a00 = ISA.load(o0 + c) * f0, a01 = ISA.load(o0 + c + l) * f0
            var a10 = ISA.load(o1 + c) * f1, a11 = ISA.load(o1 + c + l) * f1
            var a20 = ISA.load(o2 + c) * f2, a21 = ISA.load(o2 + c + l) * f2
            var a30 = ISA.load(o3 + c) * f3, a31 = ISA.load(o3 + c + l) * f3
            var v = values + c
            for j in 0 ..< keys {
                let v0 = ISA.load(v), v1 = ISA.load(v + l)
                let p0 = ISA.Vector(repeating: w0[j])
                a00 = a00.addingProduct(p0, v0)
                a01 = a01.addingProduct(p0, v1)
                let p1 = ISA.Vector(repeating: w1[j])
                a10 = a10.addingProduct(p1, v0)
                a11 = a11.addingProduct(p1, v1)
                let p2 = ISA.Vector(repeating: w2[j])
                a20 = a20.addingProduct(p2, v0)
                a21 = a21.addingProduct(p2, v1)
                let p3 = ISA.Vector(repeating: w3[j])
                a30 = a30.addingProduct(p3, v0)
                a31 = a31.addingProduct(p3, v1)
                v += paddedWidth
            }
            ISA.store(a00, o0 + c)
            ISA.store(a01, o0 + c + l)
            ISA.store(a10, o1 + c)
            ISA.store(a11, o1 + c + l)
            ISA.store(a20, o2 + c)
            ISA.store(a21, o2 + c + l)
            ISA.store(a30, o3 + c)
            ISA.store(a31, o3 + c + l)
            c += 2 * l
        }
        if c < paddedWidth {
            // Even and odd keys go to separate accumulators: four dependency chains alone would
            // leave the FMA units waiting on their latency.
            var a0 = ISA.load(o0 + c) * f0, a1 = ISA.load(o1 + c) * f1
            var a2 = ISA.load(o2 + c) * f2, a3 = ISA.load(o3 + c) * f3
            var b0 = ISA.Vector(), b1 = ISA.Vector(), b2 = ISA.Vector(), b3 = ISA.Vector()
            var v = values + c
            var j = 0
            while j + 1 < keys {
                let v0 = ISA.load(v), v1 = ISA.load(v + paddedWidth)
                a0 = a0.addingProduct(ISA.Vector(repeating: w0[j]), v0)
                a1 = a1.addingProduct(ISA.Vector(repeating: w1[j]), v0)
                a2 = a2.addingProduct(ISA.Vector(repeating: w2[j]), v0)
                a3 = a3.addingProduct(ISA.Vector(repeating: w3[j]), v0)
                b0 = b0.addingProduct(ISA.Vector(repeating: w0[j + 1]), v1)
                b1 = b1.addingProduct(ISA.Vector(repeating: w1[j + 1]), v1)
                b2 = b2.addingProduct(ISA.Vector(repeating: w2[j + 1]), v1)
                b3 = b3.addingProduct(ISA.Vector(repeating: w3[j + 1]), v1)
                v += 2 * paddedWidth
                j += 2
            }
            if j < keys {
                let v0 = ISA.load(v)
                a0 = a0.addingProduct(ISA.Vector(repeating: w0[j]), v0)
                a1 = a1.addingProduct(ISA.Vector(repeating: w1[j]), v0)
                a2 = a2.addingProduct(ISA.Vector(repeating: w2[j]), v0)
                a3 = a3.addingProduct(ISA.Vector(repeating: w3[j]), v0)
            }
            ISA.store(a0 + b0, o0 + c)
            ISA.store(a1 + b1, o1 + c)
            ISA.store(a2 + b2, o2 + c)
            ISA.store(a3 + b3, o3 + c)
        }
    }
}

/// One parallel item: `rows` queries from `firstQuery` of batch row `row`, head `head`;
/// `packs` when the (batch row, head)'s keys and values are not in the buffers yet.
@frozen @usableFromInline
struct QueryTile {
    @usableFromInline let row, head, firstQuery, rows: Int
    @usableFromInline let packs: Bool

    @inlinable
    init(row: Int, head: Int, firstQuery: Int, rows: Int, packs: Bool) {
        (self.row, self.head, self.firstQuery, self.rows, self.packs) = (row, head, firstQuery, rows, packs)
    }
}

/// The head width as a type, so that generic specialisation turns it into a constant.
@usableFromInline
protocol HeadWidth {
    /// The head width: a constant, or `runtime` for widths without a specialisation.
    static func value(_ runtime: Int) -> Int
}

@usableFromInline enum HeadWidth4: HeadWidth { @inlinable static func value(_: Int) -> Int { 4 } }
@usableFromInline enum HeadWidth8: HeadWidth { @inlinable static func value(_: Int) -> Int { 8 } }
@usableFromInline enum HeadWidth16: HeadWidth { @inlinable static func value(_: Int) -> Int { 16 } }
@usableFromInline enum HeadWidth32: HeadWidth { @inlinable static func value(_: Int) -> Int { 32 } }
@usableFromInline enum HeadWidth64: HeadWidth { @inlinable static func value(_: Int) -> Int { 64 } }
@usableFromInline enum AnyHeadWidth: HeadWidth { @inlinable static func value(_ runtime: Int) -> Int { runtime } }

/// Block sizes of the fused kernel for one call.
@frozen @usableFromInline
package struct FlashTiling {
    /// `log2(e)`: scores are kept in base 2 so the softmax needs `2^x`, not `e^x`.
    @usableFromInline static let log2e: Float = 1.442_695_04
    /// Query rows per register block (four rows x two vectors of accumulators).
    @usableFromInline static let groupRows = 4
    /// Keys per online-softmax step. The step's fixed costs (a row maximum, a rescale) spread
    /// over this many keys, and its scores (`4 x 512` floats, 8 KiB) stay in L1.
    @usableFromInline package static let keyTile = 512

    /// Keys per register block of scores: two vectors.
    @usableFromInline let keyChunk: Int
    /// Query rows per parallel item: enough to reuse each key tile many times, few enough
    /// that the items spread over the cores even for one (batch row, head).
    @usableFromInline let queryRows: Int
    /// Query tiles per (batch row, head).
    @usableFromInline let queryTiles: Int
    /// Keys rounded up to a whole number of chunks.
    @usableFromInline let paddedKeys: Int
    /// The head width `d` rounded up to whole vectors: the row length of packed values and
    /// of the output accumulators.
    @usableFromInline let paddedWidth: Int
    /// The head width `d`.
    @usableFromInline let headWidth: Int
    /// Floats per vector.
    @usableFromInline let lanes: Int
    /// Whether values are packed transposed like the keys, for heads narrower than a vector
    /// (see ``FlashAttention/accumulateNarrow(weights:stride:vectors:valuesT:d:paddedWidth:accumulators:rescale:)``).
    @usableFromInline let transposesValues: Bool

    @inlinable
    init(_ problem: AttentionProblem, lanes: Int) {
        let groups = (problem.queries + Self.groupRows - 1) / Self.groupRows
        keyChunk = 2 * lanes
        queryRows = min(groups, 16) * Self.groupRows
        queryTiles = (problem.queries + queryRows - 1) / queryRows
        paddedKeys = (problem.keys + keyChunk - 1) / keyChunk * keyChunk
        paddedWidth = (problem.headWidth + lanes - 1) / lanes * lanes
        headWidth = problem.headWidth
        self.lanes = lanes
        transposesValues = problem.headWidth < lanes && problem.keys >= Self.keyTile / 2
    }
}

/// One parallel range's scratch memory for the fused kernel.
@frozen @usableFromInline
struct FlashBuffers {
    /// Packed transposed keys of the current (batch row, head): `[paddedKeys / chunk][d][chunk]`.
    @usableFromInline let keys: UnsafeMutablePointer<Float>
    /// Packed values of the current (batch row, head): `[paddedKeys][paddedWidth]`.
    @usableFromInline let values: UnsafeMutablePointer<Float>
    /// The query tile, scaled: `[queryRows][d]`.
    @usableFromInline let queries: UnsafeMutablePointer<Float>
    /// Unnormalised outputs of the query tile: `[queryRows][paddedWidth]`.
    @usableFromInline let accumulators: UnsafeMutablePointer<Float>
    /// Running maximum and running sum per query row of the tile.
    @usableFromInline let maxima, sums: UnsafeMutablePointer<Float>
    /// One group's scores, then weights, for one key tile: `[4][keyTile]`.
    @usableFromInline let scores: UnsafeMutablePointer<Float>
    /// The narrow-head path's partial sums: `[queryRows][d][lanes]` (one float otherwise).
    @usableFromInline let partials: UnsafeMutablePointer<Float>

    @inlinable
    init(_ tiling: FlashTiling) {
        let d = tiling.headWidth
        keys = .allocate(capacity: tiling.paddedKeys * d)
        values = .allocate(capacity: tiling.paddedKeys * tiling.paddedWidth)
        queries = .allocate(capacity: tiling.queryRows * d)
        accumulators = .allocate(capacity: tiling.queryRows * tiling.paddedWidth)
        maxima = .allocate(capacity: tiling.queryRows)
        sums = .allocate(capacity: tiling.queryRows)
        scores = .allocate(capacity: FlashTiling.groupRows * FlashTiling.keyTile)
        partials = .allocate(capacity: tiling.transposesValues ? tiling.queryRows * d * tiling.lanes : 1)
        // Packing overwrites only real keys and channels; the padding must read as zeros.
        keys.initialize(repeating: 0, count: tiling.paddedKeys * d)
        values.initialize(repeating: 0, count: tiling.paddedKeys * tiling.paddedWidth)
    }

    @inlinable
    func deallocate() {
        for buffer in [keys, values, queries, accumulators, maxima, sums, scores, partials] { buffer.deallocate() }
    }
}
