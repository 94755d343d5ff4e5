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
    /// heads of up to 8 channels, and temporal attention (a key per frame, a batch row per
    /// pixel) with heads of up to 32.
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
        case .queryLanes(.avx2):
            attendQueryLanes(problem, bias: AVX2.queryLanesTransposedBias(problem),
                             items: AVX2.queryLanesAttentionItems(problem), AVX2.attendQueryLanes)
        case .queryLanes(.avx512):
            attendQueryLanes(problem, bias: AVX512.queryLanesTransposedBias(problem),
                             items: AVX512.queryLanesAttentionItems(problem), AVX512.attendQueryLanes)
        }
        return result
    }

    /// Runs one instruction set's query-lanes kernel over `items` work items in parallel, all
    /// sharing `bias`, the problem's bias transposed once for the call.
    private func attendQueryLanes(_ problem: AttentionProblem, bias: [Float], items: Int,
                                  _ kernel: (AttentionProblem, UnsafePointer<Float>?, Range<Int>) -> Void) {
        bias.withUnsafeBufferPointer { transposed in
            parallelFor(items) { kernel(problem, transposed.baseAddress, $0) }
        }
    }

    /// The kernel ``attention(query:key:value:heads:scale:bias:)`` runs for `queries` queries
    /// over `keys` keys in heads of `headWidth` channels with this backend's instruction set.
    ///
    /// The query-lanes kernel takes up to ``maximumKeysForQueryLanes(headWidth:)`` keys, in
    /// AVX-512 from 9 queries (below, most of its 16 lanes would be idle). The flash kernel
    /// takes the rest, in AVX-512 from 128 keys, or from 32 for heads of 32 channels or more:
    /// below, its chunks of 32 keys are mostly padding, which costs the most where each key is
    /// cheap. Measured with `infinity bench attention` (2 threads, medians), flash AVX-512
    /// against flash AVX2: width 64 over 32 keys 16.9 against 20.2 ms, 64 keys 43.7 against
    /// 58.2, 77 keys 6.5 against 7.3; width 32 over 64 keys 35.2 against 43.6; width 64 over
    /// 16 keys 33.6 against 22.9.
    package func attentionKernel(queries: Int, keys: Int, headWidth: Int) -> AttentionKernel {
        let wide = instructionSet == .avx512
        if keys <= maximumKeysForQueryLanes(headWidth: headWidth) {
            return .queryLanes(wide && queries > 8 ? .avx512 : .avx2)
        }
        let flashAVX512 = keys >= Self.minimumKeysForAVX512 || (headWidth >= 32 && keys >= 32)
        return .flash(wide && flashAVX512 ? .avx512 : .avx2)
    }

    /// The most keys for which the query-lanes kernel beats the flash kernel, with heads of
    /// `headWidth` channels (0: never). The flash kernel shares each key's `d` FMAs among four
    /// query rows, which pays for wide heads; over few keys it spends much of its time on
    /// packing, padding and horizontal reductions, which the query-lanes kernel avoids.
    /// Measured with `infinity bench attention` (2 threads, medians; query-lanes against
    /// flash, each in its faster instruction set):
    /// - AVX-512, width 8: 16 keys 2.1 against 3.9 ms, 77 keys 4.8 against 9.7, 256 keys 7.8
    ///   against 11.3, 1024 keys 59 against 70, 4096 keys 59 against 68.
    /// - AVX-512, width 16: 16 keys 10.1 against 14.7 ms, 256 keys 13.8 against 15.5, 512 keys
    ///   52 against 59, 1024 keys even.
    /// - AVX-512, width 32: 16 keys 4.9 against 5.5 ms; 64 keys 40.4 against 35.2.
    /// - AVX-512, width 64: 16 keys 24.1 against 22.9 ms, 32 keys 20.3 against 16.9, 64 keys
    ///   58.0 against 43.7.
    /// - AVX2, width 8: 77 keys 7.8 against 9.7 ms, 128 keys even, 256 keys 15.7 against 13.7;
    ///   width 16, 16 keys 13.9 against 14.7; width 32, 16 keys 6.1 against 5.5.
    func maximumKeysForQueryLanes(headWidth: Int) -> Int {
        switch (instructionSet, headWidth) {
        case (.avx512, ...8): .max
        case (.avx512, ...16): 512
        case (.avx512, ...32): 16
        case (.avx2, ...8): 128
        case (.avx2, ...16): 16
        default: 0
        }
    }

    /// Keys from which the flash kernel runs in AVX-512 (when the backend uses it).
    static let minimumKeysForAVX512 = 128

    /// An attention kernel and the instruction set it runs in.
    package enum AttentionKernel: Hashable, CustomStringConvertible {
        /// `CPUKernels/FlashAttention.swift`: keys in lanes, any number of them.
        case flash(InstructionSet)
        /// `CPUKernels/QueryLanesAttention.swift`: queries in lanes, any number of keys.
        case queryLanes(InstructionSet)

        /// Every kernel in every instruction set this CPU runs, AVX2 first.
        package static var supported: [AttentionKernel] {
            InstructionSet.supported.flatMap { [.flash($0), .queryLanes($0)] }
        }

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
