import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes H.264 `.mp4` files by piping a y4m stream into ffmpeg:
/// `ffmpeg -y -v error -f yuv4mpegpipe -i - -c:v libx264 -pix_fmt yuv420p -crf 18 OUT`.
///
/// H.264 in 4:2:0 needs even sizes: a video with an odd width or height is padded by
/// repeating its last column or row (see ``VideoFrames/paddedToEvenSize()``).
public struct MP4Writer: Sendable {
    /// The ffmpeg executable.
    public let ffmpegPath: String
    /// Frames per second.
    public let fps: Int
    /// x264's constant rate factor (0 lossless ... 51 worst; 18 is visually lossless).
    public let crf: Int

    /// A writer at `fps` frames per second using `ffmpegPath`, or the `ffmpeg` found on `PATH`.
    public init(fps: Int, crf: Int = 18, ffmpegPath: String? = nil) throws {
        guard (0 ... 51).contains(crf) else {
            throw MediaError("x264 CRF must be an integer in 0...51, got \(crf)")
        }
        _ = try Y4MWriter(fps: fps)
        self.fps = fps
        self.crf = crf
        self.ffmpegPath = try ffmpegPath ?? Self.findFFmpeg()
    }

    /// The path of the `ffmpeg` executable on `PATH` (from `environment`), or an error saying
    /// how to get it.
    public static func findFFmpeg(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/ffmpeg"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw MediaError("writing .mp4 needs ffmpeg, which is not on PATH (\(path)); install it (scripts/setup.sh does, or `apt-get install ffmpeg`) or write .y4m or a folder of PNG frames instead")
    }

    /// The arguments ffmpeg runs with to write `path`.
    public func arguments(output path: String) -> [String] {
        ["-y", "-v", "error", "-f", "yuv4mpegpipe", "-i", "-",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", String(crf), path]
    }

    /// Encodes `video` into the `.mp4` file at `path`; returns the size written, which is the
    /// video's own or one pixel more in an odd dimension.
    @discardableResult
    public func write(_ video: VideoFrames, toFile path: String) throws -> (width: Int, height: Int) {
        let even = video.paddedToEvenSize()
        let y4m = try Y4MWriter(fps: fps)

        // ffmpeg's messages go to a file, not a pipe, so a chatty ffmpeg can never block on a
        // full pipe while this thread is busy feeding its input.
        let log = FileManager.default.temporaryDirectory
            .appendingPathComponent("infinity-ffmpeg-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString).log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
            throw MediaError("cannot create ffmpeg's log file '\(log.path)'")
        }
        defer { try? FileManager.default.removeItem(at: log) }
        let logHandle = try FileHandle(forWritingTo: log)
        defer { try? logHandle.close() }

        let input = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ffmpegPath)
        process.arguments = arguments(output: path)
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = logHandle
        do {
            try process.run()
        } catch {
            throw MediaError("cannot start ffmpeg at '\(ffmpegPath)': \(error.localizedDescription)")
        }
        // If ffmpeg exits early, writing to its input must fail with EPIPE rather than kill this
        // process with SIGPIPE; ffmpeg's own message then says why.
        signal(SIGPIPE, SIG_IGN)
        var writeError: Error?
        do {
            try y4m.write(even, to: input.fileHandleForWriting)
        } catch {
            writeError = error
        }
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()

        if process.terminationReason != .exit || process.terminationStatus != 0 || writeError != nil {
            let messages = String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self)
            let lines = messages.split(separator: "\n").suffix(10).joined(separator: "\n")
            let how = process.terminationReason == .exit
                ? "exited with status \(process.terminationStatus)"
                : "was killed by signal \(process.terminationStatus)"
            let tail = lines.isEmpty
                ? (writeError == nil ? "it printed no message" : "it stopped reading its input and printed no message")
                : lines
            throw MediaError("ffmpeg \(how) writing '\(path)':\n\(tail)")
        }
        return (even.width, even.height)
    }
}
