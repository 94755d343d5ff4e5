// Independent chains of vector FMAs and nothing else, for `infinity bench fma`: the rate of the
// machine's FMA units, against which the kernels' figures (`bench unet --profile`, `bench
// linear`, ...) can be read. Generic over the vector instruction set (`ISA`).

/// The FMA peak loop for one instruction set.
@frozen @usableFromInline
package enum FMAPeak<ISA: VectorISA> {
    /// Independent accumulators: enough to cover the FMA latency (4 cycles) of two FMA units.
    @inlinable
    package static var chains: Int { 12 }

    /// Floating-point operations of ``run(iterations:seed:)``: 2 per lane of each FMA.
    @inlinable
    package static func flops(iterations: Int) -> Double {
        2 * Double(iterations) * Double(chains) * Double(ISA.lanes)
    }

    /// `iterations` rounds of one FMA on each of the ``chains`` accumulators (`a = a * m + c`,
    /// which stays bounded), seeded by `seed`; returns their sum, so that no chain is dead code.
    @inlinable
    package static func run(iterations: Int, seed: Float) -> Float {
        let m = ISA.Vector(repeating: 0.999_9), c = ISA.Vector(repeating: seed * 1e-6)
        var a0 = ISA.Vector(repeating: seed), a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3
        var a4 = a0 + 4, a5 = a0 + 5, a6 = a0 + 6, a7 = a0 + 7
        var a8 = a0 + 8, a9 = a0 + 9, a10 = a0 + 10, a11 = a0 + 11
        for _ in 0 ..< iterations {
            a0 = c.addingProduct(a0, m); a1 = c.addingProduct(a1, m); a2 = c.addingProduct(a2, m)
            a3 = c.addingProduct(a3, m); a4 = c.addingProduct(a4, m); a5 = c.addingProduct(a5, m)
            a6 = c.addingProduct(a6, m); a7 = c.addingProduct(a7, m); a8 = c.addingProduct(a8, m)
            a9 = c.addingProduct(a9, m); a10 = c.addingProduct(a10, m); a11 = c.addingProduct(a11, m)
        }
        let sum = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11))
        return ISA.horizontalSum(sum)
    }
}
