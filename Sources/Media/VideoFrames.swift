/// A video as 8-bit RGB frames: `frames[f]` holds `height` rows of `width` pixels, each pixel
/// three bytes R, G, B (interleaved, row-major, no padding).
public struct VideoFrames: Sendable, Equatable {
    /// Pixels per row.
    public let width: Int
    /// Rows per frame.
    public let height: Int
    /// The frames, each `width * height * 3` bytes.
    public let frames: [[UInt8]]

    /// Frames of `width` x `height`; each must hold exactly `width * height * 3` bytes.
    public init(width: Int, height: Int, frames: [[UInt8]]) throws {
        guard width > 0, height > 0 else {
            throw MediaError("video size must be positive, got \(width)x\(height)")
        }
        for (index, frame) in frames.enumerated() where frame.count != width * height * 3 {
            throw MediaError("frame \(index) holds \(frame.count) bytes; a \(width)x\(height) RGB frame needs \(width * height * 3)")
        }
        self.init(checkedWidth: width, height: height, frames: frames)
    }

    /// Frames whose sizes the caller has already checked.
    init(checkedWidth width: Int, height: Int, frames: [[UInt8]]) {
        self.width = width
        self.height = height
        self.frames = frames
    }

    /// The number of frames.
    public var frameCount: Int { frames.count }

    /// The R, G, B bytes of pixel (`x`, `y`) of frame `frame`.
    public func pixel(frame: Int, x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let offset = (y * width + x) * 3
        let bytes = frames[frame]
        return (bytes[offset], bytes[offset + 1], bytes[offset + 2])
    }

    /// The video grown to even width and height (H.264 in 4:2:0 needs both even) by repeating
    /// the last column and row; itself when both are already even.
    public func paddedToEvenSize() -> VideoFrames {
        let newWidth = width + width % 2
        let newHeight = height + height % 2
        guard newWidth != width || newHeight != height else { return self }
        let padded = frames.map { frame in
            var out = [UInt8]()
            out.reserveCapacity(newWidth * newHeight * 3)
            for y in 0 ..< newHeight {
                let row = min(y, height - 1) * width * 3
                out.append(contentsOf: frame[row ..< row + width * 3])
                if newWidth != width {
                    out.append(contentsOf: frame[row + (width - 1) * 3 ..< row + width * 3])
                }
            }
            return out
        }
        return VideoFrames(checkedWidth: newWidth, height: newHeight, frames: padded)
    }

    /// The video enlarged `factor` times in both directions, each pixel repeated as a
    /// `factor` x `factor` block (nearest neighbour: pixel-space models' tiny frames stay sharp).
    public func upscaled(by factor: Int) throws -> VideoFrames {
        guard (1 ... 64).contains(factor) else { throw MediaError("upscale factor must be in 1...64, got \(factor)") }
        guard factor > 1 else { return self }
        let newWidth = width * factor
        let enlarged = frames.map { frame in
            var out = [UInt8]()
            out.reserveCapacity(newWidth * height * factor * 3)
            var row = [UInt8]()
            row.reserveCapacity(newWidth * 3)
            for y in 0 ..< height {
                row.removeAll(keepingCapacity: true)
                for x in 0 ..< width {
                    let pixel = frame[(y * width + x) * 3 ..< (y * width + x) * 3 + 3]
                    for _ in 0 ..< factor { row.append(contentsOf: pixel) }
                }
                for _ in 0 ..< factor { out.append(contentsOf: row) }
            }
            return out
        }
        return VideoFrames(checkedWidth: newWidth, height: height * factor, frames: enlarged)
    }
}
