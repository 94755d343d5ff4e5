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

    @inline(__always)
    package static func deinterleave(_ a: Vector, _ b: Vector) -> (even: Vector, odd: Vector) {
        let pair = SIMD16<Float>(lowHalf: a, highHalf: b)
        return (pair.evenHalf, pair.oddHalf)
    }

    @inline(__always)
    package static func interleave(_ a: Vector, _ b: Vector) -> (low: Vector, high: Vector) {
        var pair = SIMD16<Float>()
        pair.evenHalf = a
        pair.oddHalf = b
        return (pair.lowHalf, pair.highHalf)
    }

    @inline(__always)
    package static func load(low: UnsafePointer<Float>, high: UnsafePointer<Float>) -> Vector {
        Vector(lowHalf: UnsafeRawPointer(low).loadUnaligned(as: SIMD4<Float>.self),
               highHalf: UnsafeRawPointer(high).loadUnaligned(as: SIMD4<Float>.self))
    }

    @inline(__always)
    package static func store(_ value: Vector, low: UnsafeMutablePointer<Float>, high: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(low).storeBytes(of: value.lowHalf, as: SIMD4<Float>.self)
        UnsafeMutableRawPointer(high).storeBytes(of: value.highHalf, as: SIMD4<Float>.self)
    }
}

/// The instruction set this module is compiled for: `KernelEntryPoints.swift`, the same file in
/// both instruction-set modules, extends it.
typealias ModuleISA = AVX2
