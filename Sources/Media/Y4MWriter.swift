import Foundation

/// Writes YUV4MPEG2 (`.y4m`): a text header, then per frame `FRAME\n` and the Y, U (Cb) and
/// V (Cr) planes.
///
/// Chroma is 4:4:4 (`C444`, no subsampling, so no colour is lost before an encoder chooses its
/// own subsampling), and RGB becomes YCbCr by BT.601 in limited ("TV") range, Y in 16...235 and
/// Cb, Cr in 16...240: that is what y4m readers (ffmpeg, x264, mpv) assume when the header names
/// no range, so the file needs no extension field:
///
///     Y  = 16  + ( 65.481 R + 128.553 G +  24.966 B) / 255
///     Cb = 128 + (-37.797 R -  74.203 G + 112.000 B) / 255
///     Cr = 128 + (112.000 R -  93.786 G -  18.214 B) / 255
///
/// with R, G, B in 0...255, each result rounded to the nearest integer.
public struct Y4MWriter: Sendable {
    /// Frames per second, written as `F<fps>:1`.
    public let fps: Int

    /// A writer for videos at `fps` frames per second (1...240).
    public init(fps: Int) throws {
        guard (1 ... 240).contains(fps) else {
            throw MediaError("frame rate must be an integer in 1...240, got \(fps)")
        }
        self.fps = fps
    }

    /// The stream header, e.g. `YUV4MPEG2 W64 H48 F8:1 Ip A1:1 C444\n`.
    public func header(width: Int, height: Int) -> String {
        "YUV4MPEG2 W\(width) H\(height) F\(fps):1 Ip A1:1 C444\n"
    }

    /// One frame as y4m bytes: `FRAME\n`, then the Y, Cb and Cr planes of `rgb`
    /// (interleaved RGB, `width * height * 3` bytes).
    public func frameBytes(_ rgb: [UInt8]) -> [UInt8] {
        let pixels = rgb.count / 3
        let marker = Array("FRAME\n".utf8)
        var out = [UInt8](repeating: 0, count: marker.count + pixels * 3)
        out.replaceSubrange(0 ..< marker.count, with: marker)
        let yBase = marker.count, uBase = yBase + pixels, vBase = uBase + pixels
        for pixel in 0 ..< pixels {
            let (y, u, v) = Self.ycbcr(r: rgb[pixel * 3], g: rgb[pixel * 3 + 1], b: rgb[pixel * 3 + 2])
            out[yBase + pixel] = y
            out[uBase + pixel] = u
            out[vBase + pixel] = v
        }
        return out
    }

    /// The whole stream for `video`: the header and every frame.
    public func encode(_ video: VideoFrames) -> Data {
        var data = Data(header(width: video.width, height: video.height).utf8)
        for frame in video.frames { data.append(contentsOf: frameBytes(frame)) }
        return data
    }

    /// Writes `video` to `handle`, frame by frame.
    public func write(_ video: VideoFrames, to handle: FileHandle) throws {
        try handle.write(contentsOf: Data(header(width: video.width, height: video.height).utf8))
        for frame in video.frames { try handle.write(contentsOf: Data(frameBytes(frame))) }
    }

    /// Writes `video` to the file at `path`, replacing it.
    public func write(_ video: VideoFrames, toFile path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw MediaError("cannot create '\(path)'")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        do {
            try write(video, to: handle)
        } catch {
            throw MediaError("cannot write '\(path)': \(error)")
        }
    }

    /// BT.601 limited-range Y, Cb, Cr of an RGB pixel (see the type's documentation).
    public static func ycbcr(r: UInt8, g: UInt8, b: UInt8) -> (y: UInt8, cb: UInt8, cr: UInt8) {
        let (r, g, b) = (Double(r), Double(g), Double(b))
        let y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
        let cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
        let cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
        func byte(_ value: Double) -> UInt8 { UInt8(min(max(value.rounded(), 0), 255)) }
        return (byte(y), byte(cb), byte(cr))
    }
}
