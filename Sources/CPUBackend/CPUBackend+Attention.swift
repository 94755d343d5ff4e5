import Tensor

extension CPUBackend {
    /// Sequences with at most this many keys take the direct kernel; longer ones the fused one.
    ///
    /// Temporal attention (one key per frame, 8-32 of them) runs over a batch of every pixel,
    /// where an OpenBLAS call per (row, head) would cost more than the arithmetic it does.
    static let directAttentionMaxKeys = 64

    /// Multi-head scaled dot-product attention.
    ///
    /// `query [B, Lq, heads*d]`, `key` and `value [B, Lk, heads*d]` -> `[B, Lq, heads*d]`:
    /// per batch row and head, `softmax(scale * q k^T + bias) v`. `bias [Lq, Lk]`, when given,
    /// is added to every batch row and head; `-infinity` masks a key out. A query row whose
    /// keys are all masked yields zeros.
    ///
    /// The work splits into (batch row, head, block of queries) items run in parallel. Up to
    /// ``directAttentionMaxKeys`` keys, a SIMD kernel computes each query's scores against a
    /// transposed copy of the head's keys. Beyond that, a fused kernel streams over the keys a tile
    /// at a time with an online softmax (see `CPUBackend+AttentionFlash.swift`).
    public func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, scale: Float,
                          bias: Tensor?) throws -> Tensor {
        let op = "attention"
        let queryShape = try checkedShape(query, rank: 3, op: op, role: "query")
        let keyShape = try checkedShape(key, rank: 3, op: op, role: "key")
        let valueShape = try checkedShape(value, rank: 3, op: op, role: "value")
        let (batch, queries, width) = (queryShape[0], queryShape[1], queryShape[2])
        let keys = keyShape[1]
        guard keyShape[0] == batch, keyShape[2] == width else {
            throw TensorError("\(op): key \(keyShape) does not match query \(queryShape) (expects [\(batch), Lk, \(width)])")
        }
        guard valueShape == keyShape else {
            throw TensorError("\(op): value \(valueShape) must have the key's shape \(keyShape)")
        }
        guard heads >= 1, width % heads == 0 else {
            throw TensorError("\(op): heads must be a positive divisor of the width \(width), got \(heads)")
        }
        if let bias {
            guard bias.rank == 2, bias.shape == [queries, keys], bias.dtype == .f32 else {
                throw TensorError("\(op): bias must be f32 [\(queries), \(keys)], got \(bias.dtype) \(bias.shape)")
            }
        }

        let (result, out) = makeTensor(queryShape)
        guard result.count > 0 else { return result }
        let problem = AttentionProblem(
            query: query.cpu, key: key.cpu, value: value.cpu, bias: bias?.cpu, out: out,
            batch: batch, queries: queries, keys: keys, heads: heads, headWidth: width / heads, scale: scale)
        if keys == 0 {
            // No key to attend to: every row is fully masked.
            out.update(repeating: 0, count: result.count)
        } else if keys <= Self.directAttentionMaxKeys {
            attendDirect(problem)
        } else {
            attendFlash(problem)
        }
        return result
    }

    /// The direct kernel: per item, the head's keys transposed to `[d, Lk']` and its values
    /// copied to `[Lk, d']` (`Lk'`, `d'` rounded up to whole vectors, zero-filled), so that a
    /// query's scores are vector multiply-adds across keys and its output vector multiply-adds
    /// across the head's channels, with no horizontal reductions.
    private func attendDirect(_ p: AttentionProblem) {
        let d = p.headWidth
        let paddedKeys = (p.keys + vectorLanes - 1) / vectorLanes * vectorLanes
        let paddedWidth = (d + vectorLanes - 1) / vectorLanes * vectorLanes
        let block = min(p.queries, 256)
        let blocks = (p.queries + block - 1) / block
        parallelFor(p.batch * p.heads * blocks) { items in
            let keysT = UnsafeMutablePointer<Float>.allocate(capacity: d * paddedKeys)
            let values = UnsafeMutablePointer<Float>.allocate(capacity: p.keys * paddedWidth)
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: paddedKeys)
            defer {
                keysT.deallocate()
                values.deallocate()
                scores.deallocate()
            }
            // The padding stays zero: items only overwrite the first `Lk` keys and `d` channels.
            keysT.initialize(repeating: 0, count: d * paddedKeys)
            values.initialize(repeating: 0, count: p.keys * paddedWidth)
            scores.initialize(repeating: 0, count: paddedKeys)
            var loaded = -1
            for item in items {
                let (sequence, queryBlock) = item.quotientAndRemainder(dividingBy: blocks)
                let (row, head) = sequence.quotientAndRemainder(dividingBy: p.heads)
                if sequence != loaded {
                    let keyBase = p.key + row * p.keys * p.width + head * d
                    let valueBase = p.value + row * p.keys * p.width + head * d
                    for j in 0 ..< p.keys {
                        for c in 0 ..< d { keysT[c * paddedKeys + j] = keyBase[j * p.width + c] }
                        (values + j * paddedWidth).update(from: valueBase + j * p.width, count: d)
                    }
                    loaded = sequence
                }
                let firstQuery = queryBlock * block
                for i in firstQuery ..< min(p.queries, firstQuery + block) {
                    let q = p.query + (row * p.queries + i) * p.width + head * d
                    var chunk = 0
                    while chunk < paddedKeys {
                        var sum = FloatVector()
                        for c in 0 ..< d { sum += q[c] * loadVector(keysT + c * paddedKeys + chunk) }
                        storeVector(sum * p.scale, scores + chunk)
                        chunk += vectorLanes
                    }
                    let normaliser = exponentiateRow(scores, count: p.keys, adding: p.bias.map { $0 + i * p.keys })
                    let o = p.out + (row * p.queries + i) * p.width + head * d
                    chunk = 0
                    while chunk < d {
                        var sum = FloatVector()
                        for j in 0 ..< p.keys { sum += scores[j] * loadVector(values + j * paddedWidth + chunk) }
                        sum *= normaliser
                        if chunk + vectorLanes <= d {
                            storeVector(sum, o + chunk)
                        } else {
                            for lane in 0 ..< d - chunk { o[chunk + lane] = sum[lane] }
                        }
                        chunk += vectorLanes
                    }
                }
            }
        }
    }
}

/// Pointers and extents of one attention call, shared read-only by the parallel items (each
/// writes its own disjoint rows and head columns of `out`).
struct AttentionProblem {
    let query, key, value: UnsafePointer<Float>
    let bias: UnsafePointer<Float>?
    let out: UnsafeMutablePointer<Float>
    let batch, queries, keys, heads, headWidth: Int
    let scale: Float

    var width: Int { heads * headWidth }

    init(query: UnsafeMutablePointer<Float>, key: UnsafeMutablePointer<Float>, value: UnsafeMutablePointer<Float>,
         bias: UnsafeMutablePointer<Float>?, out: UnsafeMutablePointer<Float>,
         batch: Int, queries: Int, keys: Int, heads: Int, headWidth: Int, scale: Float) {
        self.query = UnsafePointer(query)
        self.key = UnsafePointer(key)
        self.value = UnsafePointer(value)
        self.bias = bias.map { UnsafePointer($0) }
        self.out = out
        (self.batch, self.queries, self.keys, self.heads, self.headWidth, self.scale) =
            (batch, queries, keys, heads, headWidth, scale)
    }
}
