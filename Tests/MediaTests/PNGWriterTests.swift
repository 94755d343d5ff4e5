import Foundation
import Testing
@testable import Media

/// A PNG reader for the files PNGWriter makes, written independently of it: chunks with a
/// bitwise CRC-32, zlib with stored blocks only, Adler-32 by definition, filter type 0 only.
struct TestPNG {
    struct Chunk {
        var type: String
        var data: [UInt8]
    }

    var width = 0, height = 0, bitDepth = 0, colourType = 0
    var chunks: [Chunk] = []
    var pixels: [UInt8] = []

    static func crc(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0 ..< 8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return crc ^ 0xFFFF_FFFF
    }

    static func bigEndian(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    init(_ file: [UInt8]) throws {
        try #require(Array(file.prefix(8)) == [137, 80, 78, 71, 13, 10, 26, 10])
        var offset = 8
        var idat: [UInt8] = []
        while offset < file.count {
            let length = Int(Self.bigEndian(file[offset ..< offset + 4]))
            let typeAndData = Array(file[offset + 4 ..< offset + 8 + length])
            let stored = Self.bigEndian(file[offset + 8 + length ..< offset + 12 + length])
            let type = String(decoding: typeAndData.prefix(4), as: UTF8.self)
            #expect(stored == Self.crc(typeAndData), "CRC of \(type)")
            chunks.append(Chunk(type: type, data: Array(typeAndData.dropFirst(4))))
            if type == "IDAT" { idat += typeAndData.dropFirst(4) }
            offset += 12 + length
        }
        let header = try #require(chunks.first { $0.type == "IHDR" }).data
        width = Int(Self.bigEndian(header[0 ..< 4]))
        height = Int(Self.bigEndian(header[4 ..< 8]))
        bitDepth = Int(header[8])
        colourType = Int(header[9])
        #expect(header[10 ..< 13] == [0, 0, 0])

        // zlib header: deflate, header check multiple of 31, no preset dictionary.
        #expect(idat[0] & 0x0F == 8)
        #expect((Int(idat[0]) * 256 + Int(idat[1])) % 31 == 0)
        #expect(idat[1] & 0x20 == 0)
        var position = 2
        var raw: [UInt8] = []
        var final = false
        while !final {
            let blockHeader = idat[position]
            final = blockHeader & 1 == 1
            try #require(blockHeader >> 1 & 3 == 0, "only stored blocks are expected")
            let length = Int(idat[position + 1]) | Int(idat[position + 2]) << 8
            let complement = Int(idat[position + 3]) | Int(idat[position + 4]) << 8
            #expect(length ^ complement == 0xFFFF)
            raw += idat[position + 5 ..< position + 5 + length]
            position += 5 + length
        }
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        #expect(Self.bigEndian(idat[position ..< position + 4]) == b << 16 | a)
        #expect(position + 4 == idat.count)

        let rowBytes = width * 3
        try #require(raw.count == (rowBytes + 1) * height)
        for y in 0 ..< height {
            #expect(raw[y * (rowBytes + 1)] == 0, "filter type of row \(y)")
            pixels += raw[y * (rowBytes + 1) + 1 ..< (y + 1) * (rowBytes + 1)]
        }
    }
}

@Suite("PNGWriter")
struct PNGWriterTests {
    @Test("a 3x2 image decodes back to its pixels")
    func smallImage() throws {
        let rgb: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 1, 2, 3, 250, 251, 252, 128, 64, 32]
        let file = PNGWriter.encode(width: 3, height: 2, rgb: rgb)
        let png = try TestPNG(file)
        #expect(png.chunks.map(\.type) == ["IHDR", "IDAT", "IEND"])
        #expect(png.width == 3 && png.height == 2 && png.bitDepth == 8 && png.colourType == 2)
        #expect(png.pixels == rgb)
        // IHDR's CRC is fixed by its contents: check the exact trailing IEND chunk too.
        #expect(Array(file.suffix(12)) == [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
    }

    @Test("an image larger than one stored block (65,535 bytes) splits across blocks")
    func largeImage() throws {
        let (width, height) = (200, 120) // 72,120 bytes of rows with filter bytes
        let rgb = (0 ..< width * height * 3).map { UInt8(truncatingIfNeeded: $0 * 31 / 7) }
        let png = try TestPNG(PNGWriter.encode(width: width, height: height, rgb: rgb))
        #expect(png.width == width && png.height == height)
        #expect(png.pixels == rgb)
    }

    @Test("a folder gets frame_00000.png ... and loses stale frames beyond the video")
    func folder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("media-png-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["frame_00002.png", "notes.txt"] {
            try Data([1]).write(to: folder.appendingPathComponent(name))
        }
        let video = try VideoFrames(width: 1, height: 1, frames: [[1, 2, 3], [4, 5, 6]])
        try PNGWriter().write(video, toFolder: folder.path)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names == ["frame_00000.png", "frame_00001.png", "notes.txt"])
        let second = try TestPNG(Array(Data(contentsOf: folder.appendingPathComponent("frame_00001.png"))))
        #expect(second.pixels == [4, 5, 6])
        #expect(PNGWriter.fileName(frame: 123_456) == "frame_123456.png")
    }

    @Test("an existing file where the folder should be is refused")
    func fileInTheWay() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("media-file-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data([1]).write(to: URL(fileURLWithPath: path))
        let video = try VideoFrames(width: 1, height: 1, frames: [[1, 2, 3]])
        #expect(throws: MediaError("'\(path)' exists and is not a folder; PNG frames need a folder")) {
            try PNGWriter().write(video, toFolder: path)
        }
    }
}
