import CCPUFeatures
import COpenBLAS
import Dispatch
import Tensor

/// The reference backend: host memory, OpenBLAS for GEMM, multi-threaded Swift for the rest.
///
/// `threads` bounds the backend's own parallel loops, which also split every large GEMM into
/// single-threaded OpenBLAS calls: OpenBLAS's own thread pool stays idle, so its workers never
/// spin on the cores the backend's loops need, and the process uses at most `threads` cores.
public final class CPUBackend: Sendable {
    /// Threads the backend's parallel loops (GEMMs included) use.
    public let threads: Int
    /// The vector extensions the backend's own kernels run with.
    public let instructionSet: InstructionSet

    /// The vector extensions a variant of the backend's own kernels (those not in OpenBLAS) is
    /// compiled for.
    public enum InstructionSet: String, Sendable, CaseIterable, CustomStringConvertible {
        /// x86-64 AVX2 + FMA + F16C, eight floats per vector: the baseline every CPU backend needs.
        case avx2
        /// AVX-512 F/DQ/BW/VL on top of the baseline, sixteen floats per vector.
        case avx512

        /// The widest variant this CPU runs.
        public static var best: InstructionSet { supported.last ?? .avx2 }

        /// The variants this CPU runs, narrowest first (empty when it lacks even the baseline).
        public static var supported: [InstructionSet] {
            allCases.filter(\.isSupported)
        }

        /// Whether this CPU has the extensions of this variant.
        public var isSupported: Bool {
            switch self {
            case .avx2: infinity_cpu_supports_kernels() != 0
            case .avx512: infinity_cpu_supports_avx512_kernels() != 0
            }
        }

        public var description: String {
            switch self {
            case .avx2: "AVX2"
            case .avx512: "AVX-512"
            }
        }
    }

    /// A CPU backend using `threads` threads (default: all cores) and the kernels for
    /// `instructionSet` (default: the widest this CPU runs).
    ///
    /// The kernels are compiled for the instruction set extensions ``requirements`` names;
    /// call ``checkSupported()`` first to turn a missing extension into an error (creating a
    /// backend on such a CPU, or with an `instructionSet` it lacks, stops the process with that
    /// message).
    public init(threads: Int? = nil, instructionSet: InstructionSet? = nil) {
        precondition(infinity_cpu_supports_kernels() != 0,
                     "the CPU backend needs \(Self.requirements), which this CPU lacks")
        let chosen = instructionSet ?? .best
        precondition(chosen.isSupported, "this CPU lacks the \(chosen) extensions")
        self.instructionSet = chosen
        let count = max(1, threads ?? Self.coreCount)
        self.threads = count
        // Process-wide, before the first GEMM: OpenBLAS runs the kernels this CPU's instruction
        // set suits, and computes on the calling thread from here on.
        _ = BLASKernels.core
        openblas_set_num_threads(1)
    }

    /// The OpenBLAS core type whose kernels the GEMMs run ("SkylakeX", "Haswell", ...).
    public static var blasCore: String { BLASKernels.core }

    /// The CPU extensions the kernels are compiled for.
    public static var requirements: String { String(cString: infinity_cpu_kernel_requirements()) }

    /// Throws when this CPU lacks an extension the kernels are compiled for.
    public static func checkSupported() throws {
        guard infinity_cpu_supports_kernels() != 0 else {
            throw TensorError("the CPU backend needs \(requirements), which this CPU lacks")
        }
    }

    /// Number of online cores.
    public static var coreCount: Int { Int(openblas_get_num_procs()) }

    public var name: String { "cpu (\(threads) threads, \(instructionSet) kernels, OpenBLAS \(Self.blasCore))" }

    // MARK: Memory

    /// A new tensor of `shape` with uninitialised contents, for ops to fill.
    func makeTensor(_ shape: [Int]) -> (Tensor, UnsafeMutablePointer<Float>) {
        let storage = CPUStorage(count: shape.reduce(1, *))
        return (Tensor(shape: shape, storage: storage), storage.pointer)
    }

    public func upload(_ values: [Float], shape: [Int]) throws -> Tensor {
        guard values.count == shape.reduce(1, *) else {
            throw TensorError("upload: \(values.count) values do not fill shape \(shape)")
        }
        let (tensor, out) = makeTensor(shape)
        values.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: values.count) }
        return tensor
    }

    public func download(_ tensor: Tensor) throws -> [Float] {
        Array(UnsafeBufferPointer(start: tensor.cpu, count: tensor.count))
    }

    public func zeros(_ shape: [Int]) throws -> Tensor {
        let (tensor, out) = makeTensor(shape)
        out.initialize(repeating: 0, count: tensor.count)
        return tensor
    }

    /// Frees the host buffers kept for reuse by every CPU backend in the process (tensors in
    /// use are unaffected); later ops allocate afresh. For a process that has finished its
    /// heavy work and wants its peak working set back.
    public static func releaseCachedMemory() {
        HostBufferPool.shared.trim()
    }

    /// Host memory of the process's CPU tensors (those of 64 KiB or more, which hold nearly all
    /// bytes): in use now, the peak in use since the last ``releaseCachedMemory()``, and the
    /// freed buffers kept for reuse.
    public struct MemoryStatistics: Sendable {
        /// Bytes of tensors alive now.
        public var tensorBytes: Int
        /// Most bytes alive at once since the last release of cached memory.
        public var peakTensorBytes: Int
        /// Bytes of freed buffers kept for reuse.
        public var cachedBytes: Int
    }

    /// Host memory of the process's CPU tensors now; see ``MemoryStatistics``.
    public static var memoryStatistics: MemoryStatistics {
        let statistics = HostBufferPool.shared.statistics
        return MemoryStatistics(tensorBytes: statistics.liveBytes, peakTensorBytes: statistics.peakLiveBytes,
                                cachedBytes: statistics.cachedBytes)
    }

    // MARK: Parallel loops

    /// Runs `body(range)` over `0 ..< count` split into at most `threads` contiguous chunks,
    /// in parallel. Chunks are at least `grain` long so tiny loops stay on one thread.
    func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threads, max(1, count / max(grain, 1)))
        if chunks == 1 {
            body(0 ..< count)
            return
        }
        // The chunks write disjoint ranges and `concurrentPerform` returns only after all of
        // them finish, so the non-Sendable body never outlives this call or races with itself.
        withoutActuallyEscaping(body) { body in
            let shared = unsafeBitCast(body, to: (@Sendable (Range<Int>) -> Void).self)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                shared(count * chunk / chunks ..< count * (chunk + 1) / chunks)
            }
        }
    }
}
