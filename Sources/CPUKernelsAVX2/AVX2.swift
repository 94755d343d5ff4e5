import CPUKernels

/// The CPU kernels specialised for x86-64 AVX2 + FMA (eight-lane vectors), the baseline the
/// CPU backend requires. This module is compiled for those extensions and optimised in every
/// build configuration (see Package.swift).
package enum AVX2: VectorISA {
    package typealias Vector = SIMD8<Float>
    package typealias Bits = SIMD8<Int32>

    @inline(__always)
    package static func horizontalSum(_ v: Vector) -> Float { CPUKernels.horizontalSum(v) }

    @inline(__always)
    package static func horizontalMax(_ v: Vector) -> Float { CPUKernels.horizontalMax(v) }

    @inline(__always)
    package static func laneMax(_ a: Vector, _ b: Vector) -> Vector {
        a.replacing(with: b, where: b .> a)
    }
}

/// The instruction set this module is compiled for: `KernelEntryPoints.swift`, the same file in
/// both instruction-set modules, extends it.
typealias ModuleISA = AVX2

/// Half and twice this module's vector: the shapes of `KernelEntryPoints.swift`'s shuffles and
/// half-vector loads and stores.
typealias HalfVector = SIMD4<Float>
typealias VectorPair = SIMD16<Float>
