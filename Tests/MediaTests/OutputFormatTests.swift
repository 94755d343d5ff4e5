import Foundation
import Testing
@testable import Media

@Suite("OutputFormat")
struct OutputFormatTests {
    @Test("formats by extension, folders by form", arguments: [
        ("out/video.mp4", OutputFormat.mp4),
        ("VIDEO.MP4", .mp4),
        ("a.b/video.y4m", .y4m),
        ("latents.safetensors", .safetensors),
        ("out/frames/", .pngFolder),
        ("out/frames", .pngFolder),
        ("out.d/frames", .pngFolder),
        (".hidden", .pngFolder),
    ])
    func accepted(path: String, format: OutputFormat) throws {
        #expect(try OutputFormat(path: path) == format)
    }

    @Test("an existing folder means PNG frames even with a dot in its name")
    func existingFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("media-\(UUID().uuidString).mp4")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(try OutputFormat(path: folder.path) == .pngFolder)
    }

    @Test("other forms are refused with the accepted ones listed")
    func refused() throws {
        let accepted = "a .mp4, .y4m or .safetensors file, or a folder for PNG frames (a path ending in '/', an existing folder, or a name without an extension)"
        #expect(throws: MediaError("cannot write output 'foo.avi': unsupported extension '.avi'; give \(accepted)")) {
            try OutputFormat(path: "foo.avi")
        }
        #expect(throws: MediaError("cannot write output 'out/v.': unsupported extension '.'; give \(accepted)")) {
            try OutputFormat(path: "out/v.")
        }
        #expect(throws: MediaError("the output path is empty; give \(accepted)")) { try OutputFormat(path: "") }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("media-\(UUID().uuidString)").path
        try Data([1]).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(throws: MediaError("output '\(file)' has no extension, so it names a folder for PNG frames, but it is an existing file; give \(accepted)")) {
            try OutputFormat(path: file)
        }
    }
}
