import COpenBLAS
import Tensor

// Shared plumbing of the GEMM-family ops (linear, convolutions, attention): the one place that
// calls OpenBLAS, GEMM partitioning across the backend's threads (OpenBLAS itself stays
// single-threaded), and the shape checks.

extension CPUBackend {
    /// Row-major `c = alpha * op(a) @ op(b) + beta * c` with `op(a)` `[m, k]`, `op(b)` `[k, n]`.
    ///
    /// Leading dimensions are in elements and follow the row-major convention (the stride
    /// between consecutive rows of the matrix as stored, before any transpose). Callers check
    /// that every extent fits in `Int32` (``checkedGemmExtent(_:_:)``) before getting here.
    func sgemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
               alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
               beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        // OpenBLAS rejects a leading dimension below 1 even when the matrix is empty (k = 0).
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(max(lda, 1)), b, Int32(max(ldb, 1)),
                    beta, c, Int32(max(ldc, 1)))
    }
}

// MARK: Shape checks

/// Checks that each given operand is f32, the only element type the CPU kernels read (shapes are
/// checked by the shared rules of `Shape`); `roles` name them in the error.
func requireF32(_ operands: [(tensor: Tensor?, role: String)], op: String) throws {
    for (tensor, role) in operands {
        guard let tensor, tensor.dtype != .f32 else { continue }
        throw TensorError("\(op): \(role) must be f32 on the CPU backend, got \(tensor.dtype)")
    }
}

/// Checks that a GEMM extent or leading dimension fits OpenBLAS's 32-bit integers.
func checkedGemmExtent(_ value: Int, _ op: String) throws {
    guard value <= Int(Int32.max) else {
        throw TensorError("\(op): extent \(value) exceeds the BLAS limit of \(Int32.max)")
    }
}

// MARK: Partitioned GEMM

extension CPUBackend {
    /// Multiply-adds below which a GEMM is not worth splitting across threads (about 10 µs of
    /// one core's work): the hand-off to a second thread costs more than it saves.
    static let minimumParallelGemmWork = 1 << 19

    /// Keeps OpenBLAS on the calling thread.
    ///
    /// The backend does all its parallelism itself; OpenBLAS's own pool only adds threads that
    /// spin in `sched_yield` on cores the backend's workers need. `CPUBackend.init` sets this
    /// once; checking before each partitioned GEMM (a plain read of an OpenBLAS global) keeps it
    /// so even if something else in the process raised the count in between.
    func keepBLASSingleThreaded() {
        if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
    }

    /// ``sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` split into up to
    /// `threads` single-threaded OpenBLAS calls, each on its own block of `c`.
    ///
    /// The blocks are contiguous ranges of `c`'s rows, or of its columns when there are too few
    /// rows to give every thread a useful share (column blocks are multiples of 16 so each
    /// stays on whole cache lines). Each part first calls `prepare(rows, columns)` with the block
    /// it owns, so that writing `c`'s initial values (a bias for `beta = 1`) happens on the same
    /// core, just before the GEMM reads them.
    func parallelSgemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
                       alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                       beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                       prepare: (_ rows: Range<Int>, _ columns: Range<Int>) -> Void = { _, _ in }) {
        guard m > 0, n > 0 else { return }
        keepBLASSingleThreaded()
        let plan = GemmPartition(m: m, n: n, k: k, threads: threads)
        parallelFor(plan.parts) { parts in
            for part in parts {
                let (rows, columns) = plan.block(part)
                prepare(rows, columns)
                sgemm(transposeA: transposeA, transposeB: transposeB,
                      m: rows.count, n: columns.count, k: k, alpha: alpha,
                      a: transposeA ? a + rows.lowerBound : a + rows.lowerBound * lda, lda: lda,
                      b: transposeB ? b + columns.lowerBound * ldb : b + columns.lowerBound, ldb: ldb,
                      beta: beta, c: c + rows.lowerBound * ldc + columns.lowerBound, ldc: ldc)
            }
        }
    }
}

/// How ``CPUBackend/parallelSgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:prepare:)``
/// cuts an `[m, n]` output into `parts` blocks: balanced row ranges when every part gets at least
/// ``minimumRows`` rows, otherwise column ranges of whole 16-column groups.
struct GemmPartition: Equatable {
    /// Rows a part needs for a row split: below this OpenBLAS's micro-kernel runs mostly on
    /// its edge cases and the weights are packed for little work.
    static let minimumRows = 16
    /// Column blocks are multiples of this (16 floats: one 64-byte cache line).
    static let columnAlignment = 16

    /// The output extents.
    let m: Int, n: Int
    /// Number of blocks (at least 1 for a non-empty output).
    let parts: Int
    /// Whether the blocks are row ranges (`true`) or column ranges.
    let splitsRows: Bool

    /// The partition of an `[m, n]` output with inner dimension `k` for `threads` threads.
    init(m: Int, n: Int, k: Int, threads: Int) {
        self.m = m
        self.n = n
        let work = m * n * max(k, 1)
        let wanted = max(1, min(threads, work / CPUBackend.minimumParallelGemmWork))
        let columnGroups = (n + Self.columnAlignment - 1) / Self.columnAlignment
        if m >= wanted * Self.minimumRows || m >= n {
            splitsRows = true
            parts = max(1, min(wanted, m))
        } else {
            splitsRows = false
            parts = max(1, min(wanted, columnGroups))
        }
    }

    /// The rows and columns of `c` that part `index` owns.
    func block(_ index: Int) -> (rows: Range<Int>, columns: Range<Int>) {
        if splitsRows {
            return (m * index / parts ..< m * (index + 1) / parts, 0 ..< n)
        }
        let groups = (n + Self.columnAlignment - 1) / Self.columnAlignment
        let first = groups * index / parts * Self.columnAlignment
        let end = min(n, groups * (index + 1) / parts * Self.columnAlignment)
        return (0 ..< m, first ..< end)
    }
}

// MARK: Cache-friendly strides

/// The smallest length of at least `floats` floats that is an odd number of 64-byte cache lines:
/// rows that far apart fall in different sets of the L1 cache (64 sets of 64-byte lines, 4 KiB a
/// way), so a kernel touching many rows at once keeps them all cached. Rows a multiple of 4 KiB
/// apart all fall in one set, which on current x86 cores holds 8-12 lines.
func skewedRowLength(_ floats: Int) -> Int {
    ((max(floats, 1) + 15) / 16 | 1) * 16
}
