import Foundation
import Glibc
import Media
import Model

/// The output side of `infinity generate`, shared by the in-process path and a run through a
/// coordinator: check `--out` before any work, then write the latents in the chosen format.
enum OutputWriting {
    /// The format `--out path` asks for, checked before the model loads so a bad path fails
    /// fast: the form must be accepted, and `.mp4` needs ffmpeg on PATH.
    static func prepare(path: String) throws -> OutputFormat {
        let format: OutputFormat
        do {
            format = try OutputFormat(path: path)
        } catch let error as MediaError {
            throw Arguments.Failure(description: "--out: \(error.message)")
        }
        if format == .mp4 { _ = try MP4Writer.findFFmpeg() }
        return format
    }

    /// The progress line printer: a bar redrawn in place when stdout is a terminal (drawn from
    /// step 0, as the first step can take minutes), one plain `step ...` line per finished step
    /// otherwise (pipes, logs, tests).
    static func progressPrinter() -> @Sendable (ProgressSnapshot) -> Void {
        let renderer = ProgressRenderer.forOutput(fileDescriptor: STDOUT_FILENO)
        return { snapshot in
            switch renderer.style {
            case .plain:
                if snapshot.step > 0 { say(renderer.render(snapshot)) }
            case .bar:
                FileHandle.standardOutput.write(Data(renderer.render(snapshot).utf8))
            }
        }
    }

    /// Prints a line between progress updates (placements, recoveries): on a terminal it first
    /// clears the bar's line, and the next update redraws the bar below it.
    static func noticePrinter() -> @Sendable (String) -> Void {
        let terminal = ProgressRenderer.isTerminal(fileDescriptor: STDOUT_FILENO)
        return { line in
            if terminal {
                FileHandle.standardOutput.write(Data("\r\u{1B}[K\(line)\n".utf8))
            } else {
                say(line)
            }
        }
    }
}

/// Writes `latents` of `shape` `[C, F, H, W]` to `path` as `format` (`fps` frames per second
/// for videos) and prints what it wrote. Videos go through ``LatentDecoder``: 3-channel
/// latents are pixels; 4-channel (SD VAE) latents are shown through the linear latent-to-RGB
/// approximation at 8x, as there is no VAE decoder yet.
func writeOutput(latents: [Float], shape: [Int], to path: String, format: OutputFormat, fps: Int, upscale: Int = 1) throws {
    if format != .pngFolder { // PNGWriter makes its folder, parents included
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
    }
    guard format.isVideo else {
        try SafeTensorsWriter.write([(name: "latents", shape: shape, values: latents)], to: path)
        say("wrote \(path): latents \(shape)")
        return
    }
    let approximate = try LatentDecoder.isApproximate(channels: shape.first ?? 0)
    let video = try LatentDecoder().decode(latents: latents, shape: shape).upscaled(by: upscale)
    var size = (width: video.width, height: video.height)
    switch format {
    case .mp4: size = try MP4Writer(fps: fps).write(video, toFile: path)
    case .y4m: try Y4MWriter(fps: fps).write(video, toFile: path)
    case .pngFolder: try PNGWriter().write(video, toFolder: path)
    case .safetensors: break
    }
    let padded = size != (video.width, video.height) ? " (padded from \(video.width)x\(video.height) for H.264)" : ""
    let rate = format == .pngFolder ? "" : " at \(fps) fps"
    say("wrote \(path): \(video.frameCount) frames of \(size.width)x\(size.height)\(padded)\(rate) as \(format)")
    if approximate {
        say("note: \(shape[0])-channel VAE latents shown through the linear latent-to-RGB preview approximation, upscaled 8x; there is no VAE decoder yet")
    }
}
