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

    @inline(__always)
    package static func deinterleave(_ a: Vector, _ b: Vector) -> (even: Vector, odd: Vector) {
        let pair = SIMD32<Float>(lowHalf: a, highHalf: b)
        return (pair.evenHalf, pair.oddHalf)
    }

    @inline(__always)
    package static func interleave(_ a: Vector, _ b: Vector) -> (low: Vector, high: Vector) {
        var pair = SIMD32<Float>()
        pair.evenHalf = a
        pair.oddHalf = b
        return (pair.lowHalf, pair.highHalf)
    }

    @inline(__always)
    package static func load(low: UnsafePointer<Float>, high: UnsafePointer<Float>) -> Vector {
        Vector(lowHalf: UnsafeRawPointer(low).loadUnaligned(as: SIMD8<Float>.self),
               highHalf: UnsafeRawPointer(high).loadUnaligned(as: SIMD8<Float>.self))
    }

    @inline(__always)
    package static func store(_ value: Vector, low: UnsafeMutablePointer<Float>, high: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(low).storeBytes(of: value.lowHalf, as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(high).storeBytes(of: value.highHalf, as: SIMD8<Float>.self)
    }
}

/// The instruction set this module is compiled for: `KernelEntryPoints.swift`, the same file in
/// both instruction-set modules, extends it.
typealias ModuleISA = AVX512
