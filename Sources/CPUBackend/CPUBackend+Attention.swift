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
    /// The work splits into (batch row, head, tile of queries) items run in parallel, by one of
    /// two kernels (see ``attentionKernel(queries:keys:headWidth:)``). The flash kernel streams
    /// over the keys a tile at a time with an online softmax, so no score matrix is ever stored
    /// (`CPUKernels/FlashAttention.swift`). The query-lanes kernel puts queries in vector lanes
    /// and reads keys and values in place (`CPUKernels/QueryLanesAttention.swift`): it serves
    /// temporal attention (a key per frame, a batch row per pixel) and narrow heads.
    public func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, scale: Float,
                          bias: Tensor?) throws -> Tensor {
        try attention(query: query, key: key, value: value, heads: heads, scale: scale, bias: bias, kernel: nil)
    }

    /// ``attention(query:key:value:heads:scale:bias:)`` with the given kernel, or the one
    /// ``attentionKernel(queries:keys:headWidth:)`` picks: for tests and benchmarks to compare them.
    package func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, scale: Float, bias: Tensor?,
                           kernel: AttentionKernel?) throws -> Tensor {
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
            return result
        }
        let chosen = kernel ?? attentionKernel(queries: queries, keys: keys, headWidth: problem.headWidth)
        precondition(chosen.instructionSet.isSupported, "attention kernel \(chosen) on this CPU")
        switch chosen {
        case .flash(.avx2): parallelFor(AVX2.attentionItems(problem)) { AVX2.attend(problem, items: $0) }
        case .flash(.avx512): parallelFor(AVX512.attentionItems(problem)) { AVX512.attend(problem, items: $0) }
        case .queryLanes(.avx2): parallelFor(AVX2.queryLanesAttentionItems(problem)) { AVX2.attendQueryLanes(problem, items: $0) }
        case .queryLanes(.avx512):
            parallelFor(AVX512.queryLanesAttentionItems(problem)) { AVX512.attendQueryLanes(problem, items: $0) }
        }
        return result
    }

    /// The kernel ``attention(query:key:value:heads:scale:bias:)`` runs for `queries` queries
    /// over `keys` keys in heads of `headWidth` channels with this backend's instruction set.
    ///
    /// The query-lanes kernel takes up to ``maximumKeysForQueryLanes(headWidth:)`` keys, in
    /// AVX-512 from 9 queries (below, most of its 16 lanes would be idle); the flash kernel the
    /// rest, in AVX-512 from 128 keys (below, its chunks of 32 keys are mostly padding).
    package func attentionKernel(queries: Int, keys: Int, headWidth: Int) -> AttentionKernel {
        let wide = instructionSet == .avx512
        if keys <= maximumKeysForQueryLanes(headWidth: headWidth) {
            return .queryLanes(wide && queries > 8 ? .avx512 : .avx2)
        }
        return .flash(wide && keys >= Self.minimumKeysForAVX512 ? .avx512 : .avx2)
    }

    /// The most keys for which the query-lanes kernel beats the flash kernel, with heads of
    /// `headWidth` channels. The flash kernel shares each key's `d` FMAs among four query rows,
    /// which pays for wide heads over many keys; over few keys it spends most of its time on
    /// packing, padding and horizontal reductions. Measured with `infinity bench attention`
    /// (2 threads, medians; query-lanes against flash, each in its faster instruction set):
    /// - 16 keys (temporal), 32 sequences x 4 heads of 8 x 16 queries: 2.1 against 3.9 ms.
    /// - AVX-512, width 8: 77 keys 4.8 against 9.7 ms, 256 keys 7.8 against 11.3, 1024 keys
    ///   59 against 70, 4096 keys 59 against 68.
    /// - AVX-512, width 16: 256 keys 13.8 against 15.5, 512 keys 52 against 59, 1024 even.
    /// - AVX-512, width 32: 77 keys and 256 keys, flash 20-30% faster.
    /// - AVX2, width 8: 77 keys 7.8 against 9.7 ms, 128 keys even, 256 keys flash faster.
    func maximumKeysForQueryLanes(headWidth: Int) -> Int {
        switch (instructionSet, headWidth) {
        case (.avx512, ...8): .max
        case (.avx512, ...16): 512
        case (.avx2, ...8): 128
        default: 64
        }
    }

    /// Keys from which the flash kernel runs in AVX-512 (when the backend uses it).
    static let minimumKeysForAVX512 = 128

    /// An attention kernel and the instruction set it runs in.
    package enum AttentionKernel: Hashable, CustomStringConvertible {
        /// `CPUKernels/FlashAttention.swift`: keys in lanes, any number of them.
        case flash(InstructionSet)
        /// `CPUKernels/QueryLanesAttention.swift`: queries in lanes, up to 64 keys.
        case queryLanes(InstructionSet)

        /// Every kernel in every instruction set.
        package static var all: [AttentionKernel] { InstructionSet.allCases.flatMap { [.flash($0), .queryLanes($0)] } }

        package var instructionSet: InstructionSet {
            switch self { case .flash(let set), .queryLanes(let set): set }
        }

        package var description: String {
            switch self {
            case .flash(let set): "flash \(set)"
            case .queryLanes(let set): "query-lanes \(set)"
            }
        }
    }
}
