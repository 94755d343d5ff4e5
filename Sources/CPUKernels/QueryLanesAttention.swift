// The attention kernel with queries in vector lanes (`ISA`, `L` lanes per vector), for short
// key sequences (temporal attention: a key per frame) and for narrow heads.
//
// One work item is a (batch row, head, block of L queries). Its queries are copied transposed
// into `[d][L]` (by shuffles, `BlockTranspose.swift`) and scaled by `scale * log2(e)`, so
// that each key, a row of `d` contiguous floats, meets all L queries at once by broadcast:
//   1. scores: for each key `j` of a tile of 256, `s_j = sum_c k_j[c] * qT[c]` (`d` FMAs with
//      the queries in registers, eight channels at a time, plus the bias's column `j` when
//      there is a bias), kept in a `[256][L]` buffer in L1, and the lane-wise maximum over the
//      tile;
//   2. weights: `2^(s_j - max)` with the running maximum (online softmax: the earlier tiles'
//      sums and outputs are rescaled when it rises), in place, and their lane-wise sum;
//   3. values: `oT[c] = sum_j v_j[c] * w_j` for blocks of up to eight channels (eight
//      independent FMA chains), each key's values broadcast from its row;
// and the outputs, `oT[c] / sum`, are copied back into the queries' rows. Keys and values are
// read in place, or, when several blocks of queries read them and heads interleave in the rows,
// from dense copies made once per (batch row, head) (``packsKeys(_:)``); every maximum and sum
// is a lane-wise vector operation, and no lane is padding when L divides the query count.
// The flash kernel, with keys in lanes, spends a short sequence mostly on packing, padding and
// horizontal reductions; over many keys it wins only for wide heads, whose `d` FMAs per key
// the flash kernel shares among four query rows (`CPUBackend.attentionKernel(queries:keys:headWidth:)`
// chooses).

@frozen @usableFromInline
package enum QueryLanesAttention<ISA: VectorISA> {
    /// Keys per online-softmax step: their scores (16 KiB in AVX-512) stay in L1.
    @inlinable
    static var keyTile: Int { 256 }

    /// Work items of `problem`: (batch row, head, block of L queries) triples.
    @inlinable
    package static func items(_ problem: AttentionProblem) -> Int {
        problem.batch * problem.heads * queryBlocks(problem)
    }

    @inlinable
    static func queryBlocks(_ p: AttentionProblem) -> Int { (p.queries + ISA.lanes - 1) / ISA.lanes }

    /// Floats of ``transposeBias(_:into:)``'s layout for `problem`: 0 without bias.
    @inlinable
    package static func transposedBiasCount(_ p: AttentionProblem) -> Int {
        p.bias == nil ? 0 : queryBlocks(p) * p.keys * ISA.lanes
    }

    /// `biasT[block][j][lane] = log2(e) * bias[block * L + lane][j]`: each key's bias for a
    /// block of queries as a vector (0 for lanes past the last query, whose results are
    /// dropped), ``transposedBiasCount(_:)`` floats. Done once per call, before the work items
    /// share it.
    @inlinable
    package static func transposeBias(_ p: AttentionProblem, into biasT: UnsafeMutablePointer<Float>) {
        guard let bias = p.bias else { return }
        let lanes = ISA.lanes
        for block in 0 ..< queryBlocks(p) {
            for j in 0 ..< p.keys {
                for lane in 0 ..< lanes {
                    let query = block * lanes + lane
                    biasT[(block * p.keys + j) * lanes + lane] = query < p.queries
                        ? bias[query * p.keys + j] * FlashTiling.log2e : 0
                }
            }
        }
    }

    /// Runs the work items `items` of `problem`, whose bias (when it has one) `transposedBias`
    /// holds as ``transposeBias(_:into:)`` lays it out.
    @inlinable
    package static func run(_ problem: AttentionProblem, transposedBias: UnsafePointer<Float>?, items: Range<Int>) {
        let biasT = problem.bias == nil ? nil : transposedBias
        switch problem.headWidth {
        case 4: run(problem, biasT: biasT, items: items, width: HeadWidth4.self)
        case 8: run(problem, biasT: biasT, items: items, width: HeadWidth8.self)
        case 16: run(problem, biasT: biasT, items: items, width: HeadWidth16.self)
        case 32: run(problem, biasT: biasT, items: items, width: HeadWidth32.self)
        case 64: run(problem, biasT: biasT, items: items, width: HeadWidth64.self)
        default: run(problem, biasT: biasT, items: items, width: AnyHeadWidth.self)
        }
    }

    @inlinable
    static func run<Width: HeadWidth>(_ p: AttentionProblem, biasT: UnsafePointer<Float>?, items: Range<Int>,
                                      width: Width.Type) {
        let lanes = ISA.lanes, d = Width.value(p.headWidth)
        let blocks = queryBlocks(p)
        let buffers = QueryLanesBuffers(p, lanes: lanes, keyTile: keyTile, packing: packsKeys(p))
        defer { buffers.deallocate() }
        var packedSequence = -1
        for item in items {
            let (sequence, block) = item.quotientAndRemainder(dividingBy: blocks)
            let (row, head) = sequence.quotientAndRemainder(dividingBy: p.heads)
            let keyRows = p.key + row * p.keys * p.width + head * d
            let valueRows = p.value + row * p.keys * p.width + head * d
            let operands: (keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int)
            if let packedKeys = buffers.packedKeys, let packedValues = buffers.packedValues {
                if sequence != packedSequence {
                    for j in 0 ..< p.keys {
                        (packedKeys + j &* d).update(from: keyRows + j &* p.width, count: d)
                        (packedValues + j &* d).update(from: valueRows + j &* p.width, count: d)
                    }
                    packedSequence = sequence
                }
                operands = (UnsafePointer(packedKeys), UnsafePointer(packedValues), d)
            } else {
                operands = (keyRows, valueRows, p.width)
            }
            attend(p, row: row, head: head, firstQuery: block * lanes, keys: operands.keys,
                   values: operands.values, stride: operands.stride, width: Width.self,
                   biasT: biasT.map { $0 + block * p.keys * lanes }, buffers: buffers)
        }
    }

    /// Whether the items copy each (batch row, head)'s keys and values into dense `[keys][d]`
    /// rows first: when several query blocks read them and the heads interleave in the rows.
    /// In place, a head's `d` floats of each row share a cache line with the other heads', so
    /// every block would stream the whole rows (all heads) through the caches; dense, a key
    /// tile's keys and values stay in L1.
    @inlinable
    static func packsKeys(_ p: AttentionProblem) -> Bool { p.heads > 1 && queryBlocks(p) > 1 }

    /// Attends the block of up to L queries from `firstQuery` of (batch row `row`, head `head`)
    /// to the keys and values whose rows of `d` floats start `stride` floats apart, and writes
    /// their outputs.
    @inlinable @inline(never)
    static func attend<Width: HeadWidth>(_ p: AttentionProblem, row: Int, head: Int, firstQuery: Int,
                                         keys keyBase: UnsafePointer<Float>, values valueBase: UnsafePointer<Float>,
                                         stride: Int, width: Width.Type, biasT: UnsafePointer<Float>?,
                                         buffers: QueryLanesBuffers) {
        let lanes = ISA.lanes
        let d = Width.value(p.headWidth)
        let count = min(lanes, p.queries - firstQuery)
        let queryBase = p.query + (row * p.queries + firstQuery) * p.width + head * d
        let queriesT = buffers.queriesT, scores = buffers.scores, outputsT = buffers.outputsT

        // Queries transposed and scaled; lanes past the last query stay zero. A whole block of
        // power-of-two width goes by shuffles (`BlockTranspose.swift`), the rest element-wise.
        let queryScale = p.scale * FlashTiling.log2e
        let shuffles = count == lanes && ISA.transposes(width: d)
        if shuffles {
            ISA.transposeRows(queryBase, stride: p.width, width: d, scale: queryScale, into: queriesT,
                              scratch: outputsT)
        } else {
            if count < lanes { queriesT.update(repeating: 0, count: d * lanes) }
            for lane in 0 ..< count {
                let source = queryBase + lane &* p.width
                for c in 0 ..< d { queriesT[c &* lanes &+ lane] = source[c] * queryScale }
            }
        }

        // Keys a tile at a time, with an online softmax (the running maximum raised and the sums
        // rescaled per tile), so that a tile's scores stay in L1.
        var maxima = ISA.Vector(repeating: -.infinity), sums = ISA.Vector()
        var tileStart = 0
        while tileStart < p.keys {
            let tileKeys = min(keyTile, p.keys - tileStart)
            // 1. Scores and their lane-wise maximum.
            let tileMaxima = scoreTile(keyBase + tileStart &* stride, keys: tileKeys, stride: stride,
                                       headWidth: p.headWidth, Width.self,
                                       queriesT: queriesT, biasT: biasT.map { $0 + tileStart &* lanes },
                                       into: scores)

            // 2. Weights and their sums. While a query's keys are all masked its maximum is
            // -infinity: offsetting by the lowest finite float instead keeps the weights exact
            // zeros. The earlier tiles' sums and outputs shrink by 2^(old - new maximum).
            let lowest = ISA.Vector(repeating: -.greatestFiniteMagnitude)
            let previous = ISA.laneMax(maxima, lowest)
            maxima = ISA.laneMax(maxima, tileMaxima)
            let offsets = ISA.laneMax(maxima, lowest)
            let rescale = ISA.exp2(previous - offsets)
            var sum0 = ISA.Vector(), sum1 = ISA.Vector()
            var t = 0
            while t &+ 1 < tileKeys {
                let e0 = ISA.exp2Weight(ISA.load(scores + t &* lanes) - offsets)
                let e1 = ISA.exp2Weight(ISA.load(scores + (t &+ 1) &* lanes) - offsets)
                ISA.store(e0, scores + t &* lanes)
                ISA.store(e1, scores + (t &+ 1) &* lanes)
                sum0 += e0
                sum1 += e1
                t &+= 2
            }
            if t < tileKeys {
                let e = ISA.exp2Weight(ISA.load(scores + t &* lanes) - offsets)
                ISA.store(e, scores + t &* lanes)
                sum0 += e
            }
            sums = sums * rescale + (sum0 + sum1)

            // 3. Weighted values, eight channels at a time.
            var c0 = 0
            while c0 < d {
                accumulateValues(valueBase + tileStart &* stride, keys: tileKeys, stride: stride,
                                 channels: c0 ..< min(d, c0 &+ 8), weights: scores,
                                 rescale: tileStart == 0 ? nil : rescale, into: outputsT)
                c0 &+= 8
            }
            tileStart &+= tileKeys
        }

        // The outputs, normalised and copied back into the query rows. A zero sum (every key
        // masked) leaves zero outputs: their products are all exact zeros.
        let inverse = ISA.Vector(repeating: 1) / ISA.laneMax(sums, ISA.Vector(repeating: .leastNormalMagnitude))
        for c in 0 ..< d { ISA.store(ISA.load(outputsT + c &* lanes) * inverse, outputsT + c &* lanes) }
        let outBase = p.out + (row * p.queries + firstQuery) * p.width + head * d
        if shuffles {
            ISA.transposeToRows(outputsT, width: d, into: outBase, stride: p.width, scratch: queriesT)
        } else {
            for lane in 0 ..< count {
                let destination = outBase + lane &* p.width
                for c in 0 ..< d { destination[c] = outputsT[c &* lanes &+ lane] }
            }
        }
    }

    /// `scores[t] = biasT[t] + sum_c keys[t * stride + c] * queriesT[c]` for the `keys` keys of a
    /// tile, and their lane-wise maximum. The queries' channels are held in registers eight at
    /// a time (loaded once per tile, not once per key), each key's channels broadcast against
    /// them in one chain of FMAs (two chains made LLVM split the vectors into 4-lane pieces);
    /// heads wider than eight add each further block of eight channels to the stored scores.
    @inlinable @inline(__always)
    static func scoreTile<Width: HeadWidth>(_ keys: UnsafePointer<Float>, keys count: Int, stride: Int,
                                            headWidth: Int, _: Width.Type, queriesT: UnsafePointer<Float>, biasT: UnsafePointer<Float>?,
                          into scores: UnsafeMutablePointer<Float>) -> ISA.Vector {
        let lanes = ISA.lanes, d = Width.value(headWidth)
        var maxima = ISA.Vector(repeating: -.infinity)
        var c0 = 0
        while c0 < d {
            let width = min(8, d &- c0), first = c0 == 0, last = c0 &+ 8 >= d
            let q = queriesT + c0 &* lanes
            let q0 = ISA.load(q)
            let q1 = width > 1 ? ISA.load(q + lanes) : ISA.Vector()
            let q2 = width > 2 ? ISA.load(q + 2 &* lanes) : ISA.Vector()
            let q3 = width > 3 ? ISA.load(q + 3 &* lanes) : ISA.Vector()
            let q4 = width > 4 ? ISA.load(q + 4 &* lanes) : ISA.Vector()
            let q5 = width > 5 ? ISA.load(q + 5 &* lanes) : ISA.Vector()
            let q6 = width > 6 ? ISA.load(q + 6 &* lanes) : ISA.Vector()
            let q7 = width > 7 ? ISA.load(q + 7 &* lanes) : ISA.Vector()
            for t in 0 ..< count {
                let k = keys + (t &* stride &+ c0)
                var s: ISA.Vector
                if !first {
                    s = ISA.load(scores + t &* lanes)
                } else if let biasT {
                    s = ISA.load(biasT + t &* lanes)
                } else {
                    s = ISA.Vector()
                }
                s = s.addingProduct(ISA.Vector(repeating: k[0]), q0)
                if width > 1 { s = s.addingProduct(ISA.Vector(repeating: k[1]), q1) }
                if width > 2 { s = s.addingProduct(ISA.Vector(repeating: k[2]), q2) }
                if width > 3 { s = s.addingProduct(ISA.Vector(repeating: k[3]), q3) }
                if width > 4 { s = s.addingProduct(ISA.Vector(repeating: k[4]), q4) }
                if width > 5 { s = s.addingProduct(ISA.Vector(repeating: k[5]), q5) }
                if width > 6 { s = s.addingProduct(ISA.Vector(repeating: k[6]), q6) }
                if width > 7 { s = s.addingProduct(ISA.Vector(repeating: k[7]), q7) }
                ISA.store(s, scores + t &* lanes)
                if last { maxima = ISA.laneMax(maxima, s) }
            }
            c0 &+= 8
        }
        return maxima
    }

    /// `outputsT[c] = rescale * outputsT[c] + sum_j values[j * stride + c] * weights[j]` for
    /// the channels `channels` (at most eight; no earlier sum without `rescale`), each a vector
    /// over the block's queries: eight accumulators, independent chains of one FMA per key. A
    /// whole block of eight runs without a test per channel; a short last block tests each.
    @inlinable @inline(__always)
    static func accumulateValues(_ values: UnsafePointer<Float>, keys: Int, stride: Int, channels: Range<Int>,
                                 weights: UnsafePointer<Float>, rescale: ISA.Vector?,
                                 into outputsT: UnsafeMutablePointer<Float>) {
        let lanes = ISA.lanes
        let c0 = channels.lowerBound, width = channels.count
        let out = outputsT + c0 &* lanes
        var a0 = ISA.Vector(), a1 = ISA.Vector(), a2 = ISA.Vector(), a3 = ISA.Vector()
        var a4 = ISA.Vector(), a5 = ISA.Vector(), a6 = ISA.Vector(), a7 = ISA.Vector()
        if let rescale {
            a0 = ISA.load(out) * rescale
            if width > 1 { a1 = ISA.load(out + lanes) * rescale }
            if width > 2 { a2 = ISA.load(out + 2 &* lanes) * rescale }
            if width > 3 { a3 = ISA.load(out + 3 &* lanes) * rescale }
            if width > 4 { a4 = ISA.load(out + 4 &* lanes) * rescale }
            if width > 5 { a5 = ISA.load(out + 5 &* lanes) * rescale }
            if width > 6 { a6 = ISA.load(out + 6 &* lanes) * rescale }
            if width > 7 { a7 = ISA.load(out + 7 &* lanes) * rescale }
        }
        if width == 8 {
            for j in 0 ..< keys {
                let w = ISA.load(weights + j &* lanes)
                let v = values + (j &* stride &+ c0)
                a0 = a0.addingProduct(ISA.Vector(repeating: v[0]), w)
                a1 = a1.addingProduct(ISA.Vector(repeating: v[1]), w)
                a2 = a2.addingProduct(ISA.Vector(repeating: v[2]), w)
                a3 = a3.addingProduct(ISA.Vector(repeating: v[3]), w)
                a4 = a4.addingProduct(ISA.Vector(repeating: v[4]), w)
                a5 = a5.addingProduct(ISA.Vector(repeating: v[5]), w)
                a6 = a6.addingProduct(ISA.Vector(repeating: v[6]), w)
                a7 = a7.addingProduct(ISA.Vector(repeating: v[7]), w)
            }
        } else {
            for j in 0 ..< keys {
                let w = ISA.load(weights + j &* lanes)
                let v = values + (j &* stride &+ c0)
                a0 = a0.addingProduct(ISA.Vector(repeating: v[0]), w)
                if width > 1 { a1 = a1.addingProduct(ISA.Vector(repeating: v[1]), w) }
                if width > 2 { a2 = a2.addingProduct(ISA.Vector(repeating: v[2]), w) }
                if width > 3 { a3 = a3.addingProduct(ISA.Vector(repeating: v[3]), w) }
                if width > 4 { a4 = a4.addingProduct(ISA.Vector(repeating: v[4]), w) }
                if width > 5 { a5 = a5.addingProduct(ISA.Vector(repeating: v[5]), w) }
                if width > 6 { a6 = a6.addingProduct(ISA.Vector(repeating: v[6]), w) }
            }
        }
        ISA.store(a0, out)
        if width > 1 { ISA.store(a1, out + lanes) }
        if width > 2 { ISA.store(a2, out + 2 &* lanes) }
        if width > 3 { ISA.store(a3, out + 3 &* lanes) }
        if width > 4 { ISA.store(a4, out + 4 &* lanes) }
        if width > 5 { ISA.store(a5, out + 5 &* lanes) }
        if width > 6 { ISA.store(a6, out + 6 &* lanes) }
        if width > 7 { ISA.store(a7, out + 7 &* lanes) }
    }
}

/// One parallel range's scratch memory for the query-lanes kernel.
@frozen @usableFromInline
struct QueryLanesBuffers {
    /// The block's queries, transposed and scaled: `[d][L]`.
    @usableFromInline let queriesT: UnsafeMutablePointer<Float>
    /// One key tile's scores, then weights: `[min(Lk, keyTile)][L]`.
    @usableFromInline let scores: UnsafeMutablePointer<Float>
    /// The block's outputs, transposed: `[d][L]`.
    @usableFromInline let outputsT: UnsafeMutablePointer<Float>

    /// One (batch row, head)'s keys and values as dense `[keys][d]` rows, when the kernel
    /// packs them (``QueryLanesAttention/packsKeys(_:)``).
    @usableFromInline let packedKeys, packedValues: UnsafeMutablePointer<Float>?

    @inlinable
    init(_ p: AttentionProblem, lanes: Int, keyTile: Int, packing: Bool) {
        queriesT = .allocate(capacity: p.headWidth * lanes)
        scores = .allocate(capacity: max(1, min(p.keys, keyTile)) * lanes)
        outputsT = .allocate(capacity: p.headWidth * lanes)
        packedKeys = packing ? .allocate(capacity: p.keys * p.headWidth) : nil
        packedValues = packing ? .allocate(capacity: p.keys * p.headWidth) : nil
    }

    @inlinable
    func deallocate() {
        for buffer in [queriesT, scores, outputsT] { buffer.deallocate() }
        packedKeys?.deallocate()
        packedValues?.deallocate()
    }
}
