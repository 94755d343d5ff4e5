// 3x3 convolutions with stride 1 and padding 1 (every 3x3 convolution of a UNet's ResNet blocks)
// by Winograd's minimal filtering F(2x2, 3x3): each 2x2 block of output pixels comes from a 4x4
// block ("tile") of input pixels with 16 multiplications per input channel instead of 36.
//
// With `d` a 4x4 input tile, `g` a 3x3 kernel and
//     B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
//     A^T = [1 1 1 0; 0 1 -1 -1],
// the 2x2 output is `A^T [(G g G^T) ⊙ (B^T d B)] A`. Summed over input channels, the elementwise
// product becomes, for each of the 16 positions ξ of the 4x4 transform, one GEMM
//     M_ξ [O, tiles] = U_ξ [O, C] @ V_ξ [C, tiles]
// with `U = G g G^T` (the transformed weights) and `V = B^T d B` (the transformed input tiles):
// 2.25x fewer multiply-adds than the im2col GEMM, the GEMMs still in OpenBLAS. The transforms
// are additions only (and halvings, exact in binary), so the result stays within a few float
// roundings of the direct sum.

extension CPUBackend {
    /// Channels (in and out) from which a 3x3 convolution goes through Winograd's transform: below,
    /// the 16 GEMMs are too thin for OpenBLAS to run them well and im2col is faster.
    static let minimumWinogradChannels = 16

    /// Convolves with F(2x2, 3x3) (see the top of this file): transforms the weights once, then
    /// shares out bands of tile rows (across images, so small images still make wide GEMMs)
    /// among the threads; each band's transformed tiles and products stay in a buffer of the
    /// thread's own, sized to stay in cache.
    func convolveWinograd(_ input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          out: UnsafeMutablePointer<Float>, geometry g: ConvolutionGeometry) {
        let layout = WinogradLayout(geometry: g)
        let (channels, outChannels) = (g.channels, g.outChannels)
        let transformed = HostBufferPool.shared.allocate(byteCount: 16 * outChannels * channels * MemoryLayout<Float>.stride)
        defer { HostBufferPool.shared.release(transformed) }
        let u = transformed.base.assumingMemoryBound(to: Float.self)
        parallelFor(outChannels, grain: max(1, 4096 / max(channels, 1))) { range in
            for o in range {
                for c in 0 ..< channels {
                    transformWeight(weight + (o * channels + c) * 9, into: u + o * channels + c,
                                    stride: outChannels * channels)
                }
            }
        }

        keepBLASSingleThreaded()
        let work = max(1, 16 * outChannels * channels * layout.bandTileRows * layout.tilesX)
        parallelFor(layout.bands, grain: max(1, Self.minimumParallelGemmWork / work)) { items in
            let maximumTiles = layout.bandTileRows * layout.tilesX
            // Sized for the widest band; a narrower last band lays its matrices out closer.
            let widest = (inputs: WinogradBlocks(rows: channels, columns: maximumTiles),
                          products: WinogradBlocks(rows: outChannels, columns: maximumTiles))
            let scratch = HostBufferPool.shared.allocate(
                byteCount: 16 * (widest.inputs.positionStride + widest.products.positionStride) * MemoryLayout<Float>.stride)
            defer { HostBufferPool.shared.release(scratch) }
            let v = scratch.base.assumingMemoryBound(to: Float.self)
            let m = v + 16 * widest.inputs.positionStride
            let split = UnsafeMutablePointer<Float>.allocate(capacity: 8 * layout.splitLength)
            defer { split.deallocate() }
            for band in items {
                let firstRow = band * layout.bandTileRows
                let rows = min(layout.bandTileRows, layout.tileRows - firstRow)
                let tiles = rows * layout.tilesX
                let inputs = WinogradBlocks(rows: channels, columns: tiles)
                let products = WinogradBlocks(rows: outChannels, columns: tiles)
                transformInputBand(input, layout: layout, tileRows: firstRow ..< firstRow + rows, split: split,
                                   into: v, blocks: inputs)
                for position in 0 ..< 16 {
                    sgemm(m: outChannels, n: tiles, k: channels, a: u + position * outChannels * channels, lda: channels,
                          b: v + position * inputs.positionStride, ldb: tiles,
                          beta: 0, c: m + position * products.positionStride, ldc: tiles)
                }
                transformOutputBand(m, blocks: products, bias: bias, layout: layout,
                                    tileRows: firstRow ..< firstRow + rows, into: out)
            }
        }
    }
}

/// How ``CPUBackend/convolveWinograd(_:weight:bias:out:geometry:)`` tiles a call: tiles of 2x2
/// output pixels, rows of tiles numbered across all images, bands of whole tile rows.
struct WinogradLayout {
    let geometry: ConvolutionGeometry
    /// Tiles per row of an image and tile rows per image (odd extents end in half tiles).
    let tilesX, tilesY: Int
    /// Tile rows of all images.
    let tileRows: Int
    /// Tile rows per band, and the number of bands.
    let bandTileRows, bands: Int
    /// Length of the even and odd halves of a zero-padded input row (whole vectors, plus one
    /// vector of slack for the loads of the last tiles).
    var splitLength: Int { (tilesX + 1 + vectorLanes - 1) / vectorLanes * vectorLanes + vectorLanes }

    /// Floats of transformed input and products a band may hold (2 MiB, a core's L2 on current
    /// x86 servers): the GEMMs read the band's tiles straight after the transform wrote them.
    static let bandBudget = 1 << 19
    /// Tiles a band holds at least (the width of its GEMMs), cache budget or not.
    static let minimumTiles = 128

    init(geometry g: ConvolutionGeometry) {
        geometry = g
        tilesX = (g.width + 1) / 2
        tilesY = (g.height + 1) / 2
        tileRows = g.images * tilesY
        let rows = max(1, Self.bandBudget / (16 * (g.channels + g.outChannels) * tilesX))
        // Enough bands to go round (see `ConvolutionGeometry.minimumBands`), but never GEMMs
        // narrower than `minimumTiles`: OpenBLAS packs the [O, C] weights in every call, which
        // only pays over enough columns (with many channels the cache budget alone would
        // allow a handful of tiles).
        let minimumBands = ConvolutionGeometry.minimumBands
        let spread = min(rows, (tileRows + minimumBands - 1) / minimumBands)
        bandTileRows = max(1, spread, min(tileRows, (Self.minimumTiles + tilesX - 1) / tilesX))
        bands = (tileRows + bandTileRows - 1) / bandTileRows
    }
}

/// Where a band's 16 matrices of transformed tiles (or of products) lie in its buffer: position
/// `ξ`'s `[rows, columns]` matrix starts at `ξ * positionStride`.
///
/// The transforms read or write all 16 matrices at once, one vector each, so the matrices start
/// an odd number of cache lines apart (`skewedRowLength`). With sizes a multiple of 4 KiB
/// (32 channels x 512 tiles, say) the 16 vectors would fall in one set of the L1 cache.
struct WinogradBlocks {
    /// Columns per matrix row: the band's tiles.
    let columns: Int
    /// Floats from one position's matrix to the next.
    let positionStride: Int

    init(rows: Int, columns: Int) {
        self.columns = columns
        positionStride = skewedRowLength(rows * columns)
    }
}

/// `U = G g G^T` for one 3x3 kernel `g` (row-major), its 16 values written `stride` apart.
@inline(__always)
private func transformWeight(_ g: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>, stride: Int) {
    // G g: 4 rows of the kernel's 3 columns.
    let top = SIMD3(g[0], g[1], g[2]), middle = SIMD3(g[3], g[4], g[5]), bottom = SIMD3(g[6], g[7], g[8])
    let rows = (top, 0.5 * (top + middle + bottom), 0.5 * (top - middle + bottom), bottom)
    // (G g) G^T: each row (a, b, c) becomes (a, (a + b + c) / 2, (a - b + c) / 2, c).
    @inline(__always) func write(_ row: SIMD3<Float>, _ index: Int) {
        let (a, b, c) = (row[0], row[1], row[2])
        u[(4 * index) * stride] = a
        u[(4 * index + 1) * stride] = 0.5 * (a + b + c)
        u[(4 * index + 2) * stride] = 0.5 * (a - b + c)
        u[(4 * index + 3) * stride] = c
    }
    write(rows.0, 0)
    write(rows.1, 1)
    write(rows.2, 2)
    write(rows.3, 3)
}

/// `V = B^T d B` for every tile of the band `tileRows` and every channel: tile `t` of the band
/// (`t = row * tilesX + tx`), channel `c`, position `ξ` goes to
/// `v[ξ * blocks.positionStride + c * blocks.columns + t]`.
///
/// Channel by channel, so that the input is read one plane at a time, in order (a loop over
/// channels inside would read as many planes at once, 4 KiB apart for 32x32 images: one L1
/// set, and more streams than the prefetchers follow). The four input rows a tile row reads
/// are split into their even and odd columns of the zero-padded row (`split`,
/// `[4][2][layout.splitLength]`), so that column `j` of tiles `tx ..< tx + 8` is one
/// contiguous vector: `even[tx + j / 2]` for even `j`, `odd[tx + j / 2]` for odd `j`.
private func transformInputBand(_ input: UnsafePointer<Float>, layout: WinogradLayout, tileRows: Range<Int>,
                                split: UnsafeMutablePointer<Float>, into v: UnsafeMutablePointer<Float>,
                                blocks: WinogradBlocks) {
    let g = layout.geometry
    let half = layout.splitLength
    // Rows inside the image always write the same entries; the rest, padding, stays zero from
    // here, and a split row whose input row lies outside the image is cleared when it is reached.
    split.update(repeating: 0, count: 8 * half)
    for c in 0 ..< g.channels {
        for tileRow in tileRows {
            let (image, ty) = tileRow.quotientAndRemainder(dividingBy: layout.tilesY)
            let plane = input + (image * g.channels + c) * g.height * g.width
            let first = (tileRow - tileRows.lowerBound) * layout.tilesX
            for i in 0 ..< 4 {
                let y = 2 * ty - 1 + i
                let even = split + 2 * i * half, odd = even + half
                guard y >= 0, y < g.height else {
                    even.update(repeating: 0, count: 2 * half)
                    continue
                }
                let row = plane + y * g.width
                // Input column x is padded column x + 1: even x goes to odd[x / 2], odd x to even[(x + 1) / 2].
                var x = 0
                while x + 16 <= g.width {
                    let values = UnsafeRawPointer(row + x).loadUnaligned(as: SIMD16<Float>.self)
                    storeVector(values.evenHalf, odd + (x >> 1))
                    storeVector(values.oddHalf, even + (x >> 1) + 1)
                    x += 16
                }
                while x + 1 < g.width {
                    odd[x >> 1] = row[x]
                    even[(x >> 1) + 1] = row[x + 1]
                    x += 2
                }
                if x < g.width { odd[x >> 1] = row[x] }
            }
            var tx = 0
            while tx < layout.tilesX {
                let count = min(vectorLanes, layout.tilesX - tx)
                @inline(__always) func d(_ i: Int, _ j: Int) -> FloatVector {
                    loadVector(split + (2 * i + (j & 1)) * half + tx + (j >> 1))
                }
                @inline(__always) func store(_ value: FloatVector, _ position: Int) {
                    let destination = v + position * blocks.positionStride + c * blocks.columns + first + tx
                    if count == vectorLanes {
                        storeVector(value, destination)
                    } else {
                        for lane in 0 ..< count { destination[lane] = value[lane] }
                    }
                }
                // One row of B^T d (over the 4 columns) times B.
                @inline(__always) func row(_ index: Int, _ x0: FloatVector, _ x1: FloatVector, _ x2: FloatVector,
                                           _ x3: FloatVector) {
                    store(x0 - x2, 4 * index)
                    store(x1 + x2, 4 * index + 1)
                    store(x2 - x1, 4 * index + 2)
                    store(x1 - x3, 4 * index + 3)
                }
                let (d10, d11, d12, d13) = (d(1, 0), d(1, 1), d(1, 2), d(1, 3))
                let (d20, d21, d22, d23) = (d(2, 0), d(2, 1), d(2, 2), d(2, 3))
                row(0, d(0, 0) - d20, d(0, 1) - d21, d(0, 2) - d22, d(0, 3) - d23)
                row(1, d10 + d20, d11 + d21, d12 + d22, d13 + d23)
                row(2, d20 - d10, d21 - d11, d22 - d12, d23 - d13)
                row(3, d10 - d(3, 0), d11 - d(3, 1), d12 - d(3, 2), d13 - d(3, 3))
                tx += vectorLanes
            }
        }
    }
}

/// `Y = A^T M A + bias` for every tile of the band `tileRows` and every output channel, written
/// to the output pixels the tiles cover (a half tile at an odd right or bottom edge writes only
/// its pixels inside the image). `m[ξ * blocks.positionStride + o * blocks.columns + t]` holds
/// position `ξ` of the band's tile `t` (`t = row * tilesX + tx`). Channel by channel, so that
/// the output is written one plane at a time, in order (see ``transformInputBand``).
private func transformOutputBand(_ m: UnsafePointer<Float>, blocks: WinogradBlocks, bias: UnsafePointer<Float>?,
                                 layout: WinogradLayout, tileRows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
    let g = layout.geometry
    for o in 0 ..< g.outChannels {
        let offset = FloatVector(repeating: bias?[o] ?? 0)
        for tileRow in tileRows {
            let (image, ty) = tileRow.quotientAndRemainder(dividingBy: layout.tilesY)
            let secondRow = 2 * ty + 1 < g.height
            let first = (tileRow - tileRows.lowerBound) * layout.tilesX
            let top = out + ((image * g.outChannels + o) * g.height + 2 * ty) * g.width, bottom = top + g.width
            var tx = 0
            while tx < layout.tilesX {
                let count = min(vectorLanes, layout.tilesX - tx)
                @inline(__always) func p(_ position: Int) -> FloatVector {
                    let source = m + position * blocks.positionStride + o * blocks.columns + first + tx
                    if count == vectorLanes { return loadVector(source) }
                    var values = FloatVector()
                    for lane in 0 ..< count { values[lane] = source[lane] }
                    return values
                }
                // Column j of A^T M: (m0j + m1j + m2j, m1j - m2j - m3j).
                @inline(__always) func column(_ j: Int) -> (FloatVector, FloatVector) {
                    let (m0, m1, m2, m3) = (p(j), p(4 + j), p(8 + j), p(12 + j))
                    return (m0 + m1 + m2, m1 - m2 - m3)
                }
                let (a0, b0) = column(0), (a1, b1) = column(1), (a2, b2) = column(2), (a3, b3) = column(3)
                let y00 = a0 + a1 + a2 + offset, y01 = a1 - a2 - a3 + offset
                let y10 = b0 + b1 + b2 + offset, y11 = b1 - b2 - b3 + offset
                if count == vectorLanes, 2 * tx + 2 * vectorLanes <= g.width {
                    // Whole vectors of tiles: the two output rows interleave their even and odd columns.
                    var pixels = SIMD16<Float>()
                    pixels.evenHalf = y00
                    pixels.oddHalf = y01
                    UnsafeMutableRawPointer(top + 2 * tx).storeBytes(of: pixels, as: SIMD16<Float>.self)
                    if secondRow {
                        pixels.evenHalf = y10
                        pixels.oddHalf = y11
                        UnsafeMutableRawPointer(bottom + 2 * tx).storeBytes(of: pixels, as: SIMD16<Float>.self)
                    }
                    tx += vectorLanes
                    continue
                }
                for lane in 0 ..< count {
                    let x = 2 * (tx + lane)
                    top[x] = y00[lane]
                    if secondRow { bottom[x] = y10[lane] }
                    if x + 1 < g.width {
                        top[x + 1] = y01[lane]
                        if secondRow { bottom[x + 1] = y11[lane] }
                    }
                }
                tx += vectorLanes
            }
        }
    }
}
