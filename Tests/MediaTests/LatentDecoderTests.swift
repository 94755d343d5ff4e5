import Testing
@testable import Media

@Suite("LatentDecoder")
struct LatentDecoderTests {
    /// Latents `[C, F, H, W]` from per-pixel channel vectors: `pixels[f][y * W + x]` is the
    /// C values of that pixel.
    static func latents(_ pixels: [[[Float]]], height: Int, width: Int) -> (values: [Float], shape: [Int]) {
        let channels = pixels[0][0].count
        let frames = pixels.count
        var values = [Float](repeating: 0, count: channels * frames * height * width)
        for f in 0 ..< frames {
            for p in 0 ..< height * width {
                for c in 0 ..< channels {
                    values[((c * frames) + f) * height * width + p] = pixels[f][p][c]
                }
            }
        }
        return (values, [channels, frames, height, width])
    }

    @Test("3 channels are pixel space: round(clamp((x + 1) / 2) * 255), no upscaling")
    func pixelSpace() throws {
        let (values, shape) = Self.latents([
            [[-1, 0, 1], [0.5, -0.2, 2]],
            [[-3, 1, 0.999], [0.25, -0.5, -1]],
        ], height: 1, width: 2)
        let video = try LatentDecoder(scale: 8).decode(latents: values, shape: shape)
        #expect(video.width == 2 && video.height == 1 && video.frameCount == 2)
        // 0 -> 127.5 rounds up; 0.5 -> 191.25; -0.2 -> 102; 0.999 -> 254.87; 0.25 -> 159.375; -0.5 -> 63.75.
        #expect(video.frames[0] == [0, 128, 255, 191, 102, 255])
        #expect(video.frames[1] == [0, 255, 255, 159, 64, 0])
    }

    @Test("4 channels go through the SD 1.x latent-to-RGB matrix and a nearest upscale")
    func vaeLatents() throws {
        // Hand-computed: p * M for M = LatentDecoder.stableDiffusionLatentToRGB.
        // [0.5, -0.25, 1, 0.2] -> (-0.23095, 0.11438, 0.23116) -> (98.05, 142.08, 156.97)
        // [-1, 0, 0, 1]        -> (-0.5632, -0.4913, -1.0404)  -> (55.69, 64.86, clamped 0)
        // [0.1, 0.2, 0.3, 0.4] -> (-0.06955, 0.07067, -0.12618) -> (118.63, 136.51, 111.41)
        // [0, 0, 0, 0]         -> 127.5 each, rounded up
        let (values, shape) = Self.latents([
            [[0.5, -0.25, 1, 0.2], [-1, 0, 0, 1]],
            [[0.1, 0.2, 0.3, 0.4], [0, 0, 0, 0]],
        ], height: 1, width: 2)
        let video = try LatentDecoder(scale: 2).decode(latents: values, shape: shape)
        #expect(video.width == 4 && video.height == 2 && video.frameCount == 2)
        let row0: [UInt8] = [98, 142, 157, 98, 142, 157, 56, 65, 0, 56, 65, 0]
        #expect(video.frames[0] == row0 + row0)
        let row1: [UInt8] = [119, 137, 111, 119, 137, 111, 128, 128, 128, 128, 128, 128]
        #expect(video.frames[1] == row1 + row1)
    }

    @Test("the default scale is the VAE's 8x")
    func defaultScale() throws {
        let video = try LatentDecoder().decode(latents: [Float](repeating: 0, count: 4 * 3 * 2 * 5), shape: [4, 3, 2, 5])
        #expect(video.width == 40 && video.height == 16 && video.frameCount == 3)
        #expect(video.frames.allSatisfy { $0.allSatisfy { $0 == 128 } })
    }

    @Test("bad input fails with a message naming it", arguments: [
        ([Float](repeating: 0, count: 5 * 8), [5, 2, 2, 2],
         "cannot turn latents with 5 channels into RGB: expected 3 (pixel space) or 4 (Stable Diffusion VAE latents)"),
        ([Float](repeating: 0, count: 7), [3, 1, 2, 2], "latents of shape [3, 1, 2, 2] need 12 values, got 7"),
        ([Float](repeating: 0, count: 12), [3, 4], "latents must have shape [channels, frames, height, width] with every size positive, got [3, 4]"),
        ([0, 0, 0, 0, 0, 0, 0, .nan, 0, 0, 0, 0], [3, 2, 1, 2], "latents hold NaN at frame 1, row 0, column 1"),
    ])
    func badInput(values: [Float], shape: [Int], message: String) {
        #expect(throws: MediaError(message)) { try LatentDecoder(scale: 8).decode(latents: values, shape: shape) }
    }

    @Test("scale out of range is refused")
    func badScale() {
        #expect(throws: MediaError("latent decoder scale must be in 1...64, got 0")) { try LatentDecoder(scale: 0) }
    }
}

@Suite("VideoFrames")
struct VideoFramesTests {
    @Test("frames of the wrong size are refused")
    func wrongSize() {
        #expect(throws: MediaError("frame 1 holds 5 bytes; a 1x2 RGB frame needs 6")) {
            try VideoFrames(width: 1, height: 2, frames: [[UInt8](repeating: 0, count: 6), [1, 2, 3, 4, 5]])
        }
    }

    @Test("padding to even sizes repeats the last column and row")
    func padding() throws {
        // 3x1: pixels A B C.
        let video = try VideoFrames(width: 3, height: 1, frames: [[1, 2, 3, 4, 5, 6, 7, 8, 9]])
        let padded = video.paddedToEvenSize()
        #expect(padded.width == 4 && padded.height == 2)
        let row: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 7, 8, 9]
        #expect(padded.frames == [row + row])
        let even = try VideoFrames(width: 2, height: 2, frames: [[UInt8](repeating: 7, count: 12)])
        #expect(even.paddedToEvenSize() == even)
    }
}
