/// How a video's frames are cut into clips and which prompt and seed each clip uses.
///
/// Clip `i` holds frames `frameRanges[i]` of the video, gets its initial noise from seed
/// `seed + i`, and uses prompt `floor(i * P / N)` of `P` prompts (Video-Infinity's multi-prompt
/// mapping). Clip sizes may differ.
public struct ClipPlan: Sendable, Equatable {
    /// Frames of each clip, in video order.
    public let clipFrames: [Int]

    /// A plan with the given clip sizes (each at least 1 frame).
    public init(clipFrames: [Int]) throws {
        guard !clipFrames.isEmpty else { throw ParallelError("a clip plan needs at least one clip") }
        if let bad = clipFrames.firstIndex(where: { $0 < 1 }) {
            throw ParallelError("clip \(bad) has \(clipFrames[bad]) frames; every clip needs at least 1")
        }
        self.clipFrames = clipFrames
    }

    /// Cuts `totalFrames` into the fewest clips of at most `maxClipFrames` frames, as equal as
    /// possible (the first clips take one frame more when the division is uneven).
    public init(totalFrames: Int, maxClipFrames: Int) throws {
        guard totalFrames >= 1 else { throw ParallelError("a video needs at least 1 frame, got \(totalFrames)") }
        guard maxClipFrames >= 1 else { throw ParallelError("clip frames must be at least 1, got \(maxClipFrames)") }
        guard maxClipFrames <= totalFrames else {
            throw ParallelError("clip frames (\(maxClipFrames)) cannot exceed the video's frames (\(totalFrames))")
        }
        let clips = (totalFrames + maxClipFrames - 1) / maxClipFrames
        let base = totalFrames / clips, extra = totalFrames % clips
        try self.init(clipFrames: (0 ..< clips).map { base + ($0 < extra ? 1 : 0) })
    }

    /// Number of clips.
    public var count: Int { clipFrames.count }

    /// Frames of the whole video.
    public var totalFrames: Int { clipFrames.reduce(0, +) }

    /// The video frames clip `index` holds.
    public func frameRange(_ index: Int) -> Range<Int> {
        let start = clipFrames[..<index].reduce(0, +)
        return start ..< start + clipFrames[index]
    }

    /// The video `[C, F_total, H, W]` (flat, row-major) from each clip's latents
    /// `[1, C, F_i, H, W]`, in clip order.
    public func assemble(_ clips: [[Float]], channels: Int, plane: Int) -> [Float] {
        precondition(clips.count == count, "\(clips.count) clips for a \(count)-clip plan")
        var video = [Float](repeating: 0, count: channels * totalFrames * plane)
        for (index, latents) in clips.enumerated() {
            let range = frameRange(index)
            for channel in 0 ..< channels {
                let source = channel * range.count * plane
                let destination = (channel * totalFrames + range.lowerBound) * plane
                video.replaceSubrange(destination ..< destination + range.count * plane,
                                      with: latents[source ..< source + range.count * plane])
            }
        }
        return video
    }

    /// The clip holding video frame `frame`.
    public func clip(holding frame: Int) -> Int {
        var end = 0
        for (index, frames) in clipFrames.enumerated() {
            end += frames
            if frame < end { return index }
        }
        preconditionFailure("frame \(frame) lies beyond the video's \(totalFrames) frames")
    }

    /// The seed of clip `index`'s initial noise.
    public func seed(ofClip index: Int, base: UInt64) -> UInt64 {
        base &+ UInt64(index)
    }

    /// The prompt clip `index` uses out of `prompts`: `floor(index * prompts / count)`.
    public func prompt(ofClip index: Int, prompts: Int) -> Int {
        index * prompts / count
    }

    /// Places clips on `workers` workers: contiguous runs of clips, balanced by frames, so
    /// neighbours mostly share a worker. Returns the worker of each clip.
    public func placement(workers: Int) -> [Int] {
        precondition(workers >= 1, "placement needs at least one worker")
        let total = Double(totalFrames)
        var start = 0
        return clipFrames.map { frames in
            // The worker whose share of the frame range holds this clip's middle frame.
            let middle = Double(start) + Double(frames) / 2
            start += frames
            return min(workers - 1, Int(middle / total * Double(workers)))
        }
    }
}

/// An error in planning or running a clip-parallel generation; the message names the problem.
public struct ParallelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public let message: String

    /// Creates an error with a message that names the problem.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
