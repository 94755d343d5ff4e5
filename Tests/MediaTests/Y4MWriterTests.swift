import Foundation
import Testing
@testable import Media

@Suite("Y4MWriter")
struct Y4MWriterTests {
    @Test("BT.601 limited-range values of known colours", arguments: [
        (UInt8(255), UInt8(0), UInt8(0), UInt8(81), UInt8(90), UInt8(240)),
        (0, 255, 0, 145, 54, 34),
        (0, 0, 255, 41, 240, 110),
        (255, 255, 255, 235, 128, 128),
        (0, 0, 0, 16, 128, 128),
        (128, 64, 32, 84, 104, 158),
    ])
    func colours(r: UInt8, g: UInt8, b: UInt8, y: UInt8, cb: UInt8, cr: UInt8) {
        let result = Y4MWriter.ycbcr(r: r, g: g, b: b)
        #expect(result.y == y && result.cb == cb && result.cr == cr)
    }

    @Test("header and a frame's planes, byte for byte")
    func stream() throws {
        // 3x2 at 8 fps: red, green, blue / white, black, (128, 64, 32).
        let video = try VideoFrames(width: 3, height: 2, frames: [[
            255, 0, 0, 0, 255, 0, 0, 0, 255,
            255, 255, 255, 0, 0, 0, 128, 64, 32,
        ]])
        let data = try Y4MWriter(fps: 8).encode(video)
        var expected = Array("YUV4MPEG2 W3 H2 F8:1 Ip A1:1 C444\nFRAME\n".utf8)
        expected += [81, 145, 41, 235, 16, 84] // Y
        expected += [90, 54, 240, 128, 128, 104] // Cb
        expected += [240, 34, 110, 128, 128, 158] // Cr
        #expect(Array(data) == expected)
    }

    @Test("every frame gets a FRAME marker; the file equals the encoded stream")
    func file() throws {
        let video = try VideoFrames(width: 1, height: 1, frames: [[255, 255, 255], [0, 0, 0]])
        let writer = try Y4MWriter(fps: 24)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("media-\(UUID().uuidString).y4m").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writer.write(video, toFile: path)
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes == Array("YUV4MPEG2 W1 H1 F24:1 Ip A1:1 C444\nFRAME\n".utf8) + [235, 128, 128]
            + Array("FRAME\n".utf8) + [16, 128, 128])
    }

    @Test("frame rates outside 1...240 are refused")
    func badFPS() {
        #expect(throws: MediaError("frame rate must be an integer in 1...240, got 0")) { try Y4MWriter(fps: 0) }
        #expect(throws: MediaError("frame rate must be an integer in 1...240, got 241")) { try Y4MWriter(fps: 241) }
    }
}
