import Foundation
import Testing
@testable import Media

/// The executable `name` on PATH, if any.
func tool(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Our files read by ffmpeg, and ffmpeg's mp4 checked by ffprobe; skipped where ffmpeg is
/// not installed (scripts/setup.sh installs it).
@Suite("ffmpeg interop", .enabled(if: tool("ffmpeg") != nil && tool("ffprobe") != nil, "ffmpeg and ffprobe are not on PATH"))
struct FFmpegInteropTests {
    /// Runs `tool arguments...`; returns stdout, or fails the test with stderr.
    static func run(_ name: String, _ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(tool(name)))
        process.arguments = arguments
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let messages = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(name) \(arguments): \(String(decoding: messages, as: UTF8.self))")
        return data
    }

    /// Decodes `input` (one image or a video) to raw RGB24 frames.
    static func rgb(of input: String) throws -> [UInt8] {
        Array(try run("ffmpeg", ["-v", "error", "-i", input, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]))
    }

    /// A video of `frames` frames with smooth gradients and a few saturated pixels.
    static func testVideo(width: Int, height: Int, frames: Int) throws -> VideoFrames {
        try VideoFrames(width: width, height: height, frames: (0 ..< frames).map { f in
            (0 ..< width * height).flatMap { p -> [UInt8] in
                let (x, y) = (p % width, p / width)
                return [UInt8((x * 255) / max(1, width - 1)), UInt8((y * 255) / max(1, height - 1)), UInt8((f * 60 + x * y) % 256)]
            }
        })
    }

    static func scratch(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("media-ffmpeg-\(UUID().uuidString)-\(name)")
    }

    @Test("ffmpeg reads our PNG frames back to exactly the same pixels")
    func png() throws {
        let folder = Self.scratch("frames")
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = try Self.testVideo(width: 7, height: 5, frames: 2)
        try PNGWriter().write(video, toFolder: folder.path)
        for index in 0 ..< 2 {
            #expect(try Self.rgb(of: folder.appendingPathComponent(PNGWriter.fileName(frame: index)).path) == video.frames[index])
        }
    }

    @Test("ffmpeg reads our y4m back to the same pixels within BT.601 rounding")
    func y4m() throws {
        let file = Self.scratch("video.y4m")
        defer { try? FileManager.default.removeItem(at: file) }
        let video = try Self.testVideo(width: 16, height: 8, frames: 3)
        try Y4MWriter(fps: 8).write(video, toFile: file.path)
        let decoded = try Self.rgb(of: file.path)
        let expected = video.frames.flatMap { $0 }
        try #require(decoded.count == expected.count)
        let worst = zip(decoded, expected).map { abs(Int($0) - Int($1)) }.max()!
        // Limited range keeps ~220 of 256 levels per channel; the round trip moves a value by
        // at most two levels.
        #expect(worst <= 2, "largest difference \(worst)")
    }

    @Test("the mp4 has the video's frame count, and even sizes (odd ones padded)", arguments: [
        (16, 8, 5, 16, 8), (7, 5, 3, 8, 6),
    ])
    func mp4(width: Int, height: Int, frames: Int, expectedWidth: Int, expectedHeight: Int) throws {
        let file = Self.scratch("video.mp4")
        defer { try? FileManager.default.removeItem(at: file) }
        let video = try Self.testVideo(width: width, height: height, frames: frames)
        let size = try MP4Writer(fps: 8).write(video, toFile: file.path)
        #expect(size.width == expectedWidth && size.height == expectedHeight)
        let probe = String(decoding: try Self.run("ffprobe", [
            "-v", "error", "-show_entries", "stream=width,height,nb_frames,codec_name,pix_fmt,r_frame_rate",
            "-of", "default=noprint_wrappers=1", file.path,
        ]), as: UTF8.self)
        let fields = Dictionary(uniqueKeysWithValues: probe.split(separator: "\n").compactMap { line -> (String, String)? in
            let parts = line.split(separator: "=", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        })
        #expect(fields["codec_name"] == "h264")
        #expect(fields["pix_fmt"] == "yuv420p")
        #expect(fields["width"] == "\(expectedWidth)")
        #expect(fields["height"] == "\(expectedHeight)")
        #expect(fields["nb_frames"] == "\(frames)")
        #expect(fields["r_frame_rate"] == "8/1")
    }

    @Test("a failing ffmpeg is reported with its own message")
    func failure() throws {
        let video = try Self.testVideo(width: 4, height: 4, frames: 1)
        let path = "/no/such/folder/video.mp4"
        do {
            try MP4Writer(fps: 8).write(video, toFile: path)
            Issue.record("writing into a missing folder succeeded")
        } catch let error as MediaError {
            #expect(error.message.hasPrefix("ffmpeg exited with status 1 writing '\(path)':\n"), "\(error.message)")
            #expect(error.message.contains("No such file or directory"), "\(error.message)")
        }
    }
}

@Suite("MP4Writer")
struct MP4WriterTests {
    @Test("without ffmpeg on PATH the error says how to get it")
    func missingFFmpeg() {
        #expect(throws: MediaError("writing .mp4 needs ffmpeg, which is not on PATH (/nonexistent); install it (scripts/setup.sh does, or `apt-get install ffmpeg`) or write .y4m or a folder of PNG frames instead")) {
            try MP4Writer.findFFmpeg(environment: ["PATH": "/nonexistent"])
        }
    }

    @Test("ffmpeg's command line")
    func arguments() throws {
        let writer = try MP4Writer(fps: 12, ffmpegPath: "/bin/false")
        #expect(writer.arguments(output: "out.mp4") == [
            "-y", "-v", "error", "-f", "yuv4mpegpipe", "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "out.mp4",
        ])
    }

    @Test("an ffmpeg that exits at once fails cleanly, without SIGPIPE")
    func earlyExit() throws {
        let video = try VideoFrames(width: 64, height: 64, frames: [[UInt8]](repeating: [UInt8](repeating: 9, count: 64 * 64 * 3), count: 40))
        #expect(throws: MediaError("ffmpeg exited with status 1 writing 'x.mp4':\nit stopped reading its input and printed no message")) {
            try MP4Writer(fps: 8, ffmpegPath: "/bin/false").write(video, toFile: "x.mp4")
        }
    }
}
