import Foundation
import Testing

/// `infinity generate --out` as a video: mp4, y4m and PNG frames from the tiny model, whose
/// 4-channel latents (8x8) become 64x64 frames.
@Suite("generate output formats")
struct GenerateOutputTests {
    static func generate(out: String, extra: [String] = []) throws -> (status: Int32, output: String, error: String) {
        try CLITests.run(["generate", "--model", "\(CLITests.fixtures)/unet-tiny",
                          "--embeddings", "\(CLITests.fixtures)/unet-tiny/embeddings.safetensors",
                          "--frames", "8", "--clip-frames", "4", "--local-frames", "2", "--global-frames", "4",
                          "--height", "8", "--width", "8", "--steps", "2", "--threads", "2", "--out", out] + extra)
    }

    static func scratchFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("infinity-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    static func bigEndian(_ bytes: ArraySlice<UInt8>) -> Int {
        bytes.reduce(0) { $0 << 8 | Int($1) }
    }

    static let ffprobe: String? = ["/usr/bin/ffprobe", "/usr/local/bin/ffprobe"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test("--out video.mp4 writes an H.264 mp4 with every frame")
    func mp4() throws {
        let folder = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("nested/video.mp4").path
        let result = try Self.generate(out: out)
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("step 2/2 x 2 clips"))
        #expect(result.output.contains("wrote \(out): 8 frames of 64x64 at 8 fps as H.264 mp4"))
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: out)))
        #expect(bytes.count > 12 && String(decoding: bytes[4 ..< 8], as: UTF8.self) == "ftyp")
        if let ffprobe = Self.ffprobe {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ffprobe)
            process.arguments = ["-v", "error", "-show_entries", "stream=width,height,nb_frames", "-of", "csv=p=0", out]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let probe = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(probe.trimmingCharacters(in: .whitespacesAndNewlines) == "64,64,8")
        }
    }

    @Test("--out video.y4m --fps-out 12 writes a 64x64, 8-frame y4m at 12 fps")
    func y4m() throws {
        let folder = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("video.y4m").path
        let result = try Self.generate(out: out, extra: ["--fps-out", "12"])
        #expect(result.status == 0, "\(result.error)")
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: out)))
        let header = Array("YUV4MPEG2 W64 H64 F12:1 Ip A1:1 C444\n".utf8)
        #expect(Array(bytes.prefix(header.count)) == header)
        let frameSize = 6 + 64 * 64 * 3
        try #require(bytes.count == header.count + 8 * frameSize)
        for frame in 0 ..< 8 {
            let start = header.count + frame * frameSize
            #expect(String(decoding: bytes[start ..< start + 6], as: UTF8.self) == "FRAME\n")
        }
    }

    @Test("--out frames/ writes frame_00000.png ... frame_00007.png of 64x64")
    func pngFolder() throws {
        let folder = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("frames").path + "/"
        let result = try Self.generate(out: out)
        #expect(result.status == 0, "\(result.error)")
        let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(names == (0 ..< 8).map { "frame_0000\($0).png" })
        for name in names {
            let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: out + name)))
            #expect(Array(bytes.prefix(8)) == [137, 80, 78, 71, 13, 10, 26, 10])
            #expect(String(decoding: bytes[12 ..< 16], as: UTF8.self) == "IHDR")
            #expect(Self.bigEndian(bytes[16 ..< 20]) == 64 && Self.bigEndian(bytes[20 ..< 24]) == 64)
        }
    }

    @Test("a bad --out or --fps-out fails before the model loads", arguments: [
        (["--out", "foo.avi"],
         "infinity: --out: cannot write output 'foo.avi': unsupported extension '.avi'; give a .mp4, .y4m or .safetensors file, or a folder for PNG frames (a path ending in '/', an existing folder, or a name without an extension)\n"),
        (["--out", "v.y4m", "--fps-out", "0"], "infinity: --fps-out must be an integer in 1...240, got '0'\n"),
    ])
    func badOutput(flags: [String], message: String) throws {
        // The model folder does not exist: an error about it would mean the model was loaded first.
        let result = try CLITests.run(["generate", "--model", "/no/such/model", "--embeddings", "e",
                                       "--frames", "8", "--height", "8", "--width", "8"] + flags)
        #expect(result.status == 1)
        #expect(result.error == message)
        #expect(result.output.isEmpty)
    }
}
