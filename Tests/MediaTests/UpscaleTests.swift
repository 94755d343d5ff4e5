import Media
import Testing

@Suite struct UpscaleTests {
    @Test func nearestNeighbourBlocks() throws {
        // 2x1 frame: red, blue.
        let video = try VideoFrames(width: 2, height: 1, frames: [[255, 0, 0, 0, 0, 255]])
        let big = try video.upscaled(by: 3)
        #expect(big.width == 6 && big.height == 3 && big.frameCount == 1)
        for y in 0 ..< 3 {
            for x in 0 ..< 6 {
                let pixel = big.pixel(frame: 0, x: x, y: y)
                #expect(x < 3 ? (pixel.r, pixel.b) == (255, 0) : (pixel.r, pixel.b) == (0, 255))
            }
        }
        #expect(try video.upscaled(by: 1) == video)
        #expect(throws: MediaError.self) { try video.upscaled(by: 0) }
    }
}
