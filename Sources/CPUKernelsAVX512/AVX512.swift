import CPUKernels

/// The CPU kernels specialised for x86-64 AVX-512 (F, DQ, BW, VL; sixteen-lane vectors). This
/// module is compiled for those extensions and optimised in every build configuration (see
/// Package.swift); call it only where the CPU reports them.
package enum AVX512: VectorISA {
    package typealias Vector = SIMD16<Float>
    package typealias Bits = SIMD16<Int32>

    @inline(__always)
    package static func horizontalSum(_ v: Vector) -> Float { CPUKernels.horizontalSum(v.lowHalf + v.highHalf) }

    @inline(__always)
    package static func horizontalMax(_ v: Vector) -> Float {
        CPUKernels.horizontalMax(v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf))
    }

    @inline(__always)
    package static func laneMax(_ a: Vector, _ b: Vector) -> Vector {
        a.replacing(with: b, where: b .> a)
    }
}

/// The instruction set this module is compiled for: `KernelEntryPoints.swift`, the same file in
/// both instruction-set modules, extends it.
typealias ModuleISA = AVX512

/// Half and twice this module's vector: the shapes of `KernelEntryPoints.swift`'s shuffles and
/// half-vector loads and stores.
typealias HalfVector = SIMD8<Float>
typealias VectorPair = SIMD32<Float>
