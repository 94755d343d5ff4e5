import CPUKernels
import CPUKernelsAVX2
import CPUKernelsAVX512
import Tensor

extension CPUBackend {
    /// Multi-head scaled dot-product attention.
    ///
    /// `query [B, Lq, heads*d]`, `key` and `value [B, Lk, heads*d]` -> `[B, Lq, heads*d]`:
    /// per batch row and head, `softmax(scale * q k^T + bias) v`. `bias [Lq, Lk]`, when given,
    /// is added to every batch row and head; `-infinity` masks a key out. A query row whose
    /// keys are all masked yields zeros.
    ///
    /// The work splits into (batch row, head, tile of queries) items run in parallel, each a
    /// fused kernel that streams over the keys a tile at a time with an online softmax, so no
    /// score matrix is ever stored (see `CPUKernels/FlashAttention.swift`). The same kernel
    /// serves temporal attention (a handful of keys per sequence, a batch of every pixel) and
    /// spatial attention (thousands of keys).
    public func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, scale: Float,
                          bias: Tensor?) throws -> Tensor {
        let queryShape = try Shape.attention(query: query.shape, key: key.shape, value: value.shape, heads: heads,
                                             bias: bias?.shape)
        try requireF32([(query, "query"), (key, "key"), (value, "value"), (bias, "bias")], op: "attention")
        let (batch, queries, width, keys) = (query.shape[0], query.shape[1], query.shape[2], key.shape[1])

        let (result, out) = makeTensor(queryShape)
        guard result.count > 0 else { return result }
        let problem = AttentionProblem(
            query: query.cpu, key: key.cpu, value: value.cpu, bias: bias.map { UnsafePointer($0.cpu) }, out: out,
            batch: batch, queries: queries, keys: keys, heads: heads, headWidth: width / heads, scale: scale)
        if keys == 0 {
            // No key to attend to: every row is fully masked.
            out.update(repeating: 0, count: result.count)
        } else {
            // AVX-512 pays from about 128 keys (`infinity bench attention`); below, its chunks of
            // 32 keys are mostly padding (temporal attention has one key per frame).
            switch instructionSet {
            case .avx512 where keys >= Self.minimumKeysForAVX512:
                parallelFor(AVX512.attentionItems(problem)) { AVX512.attend(problem, items: $0) }
            default: parallelFor(AVX2.attentionItems(problem)) { AVX2.attend(problem, items: $0) }
            }
        }
        return result
    }

    /// Keys from which attention runs the AVX-512 kernels (when the backend uses them).
    static let minimumKeysForAVX512 = 128
}
