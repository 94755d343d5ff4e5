import Checksums
import Foundation

/// Writes RGB frames as PNG files (8-bit truecolour, no interlace), one file per frame named
/// `frame_00000.png`, `frame_00001.png`, ... in a folder.
///
/// The encoder is self-contained: image rows with filter type 0, wrapped in a zlib stream of
/// stored (uncompressed) deflate blocks, so files are about `width * height * 3` bytes; any
/// PNG decoder reads them.
public struct PNGWriter: Sendable {
    /// The PNG file signature.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// A writer.
    public init() {}

    /// The file name of frame `index`: `frame_` and the index with at least five digits.
    public static func fileName(frame index: Int) -> String {
        let digits = String(index)
        return "frame_\(String(repeating: "0", count: max(0, 5 - digits.count)))\(digits).png"
    }

    /// A PNG file holding the `width` x `height` image `rgb` (interleaved RGB bytes).
    public static func encode(width: Int, height: Int, rgb: [UInt8]) -> [UInt8] {
        var header: [UInt8] = []
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header += [8, 2, 0, 0, 0] // bit depth 8, colour type 2 (RGB), deflate, filter method 0, no interlace

        // Each row starts with its filter type (0: none).
        let rowBytes = width * 3
        var raw = [UInt8]()
        raw.reserveCapacity((rowBytes + 1) * height)
        for y in 0 ..< height {
            raw.append(0)
            raw.append(contentsOf: rgb[y * rowBytes ..< (y + 1) * rowBytes])
        }

        var file = signature
        appendChunk("IHDR", header, to: &file)
        appendChunk("IDAT", zlibStored(raw), to: &file)
        appendChunk("IEND", [], to: &file)
        return file
    }

    /// Writes every frame of `video` into the folder at `path` (created if missing), replacing
    /// files of the same names and removing `frame_*.png` files left beyond the last frame by an
    /// earlier, longer video.
    public func write(_ video: VideoFrames, toFolder path: String) throws {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw MediaError("'\(path)' exists and is not a folder; PNG frames need a folder")
        }
        do {
            try manager.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw MediaError("cannot create folder '\(path)': \(error.localizedDescription)")
        }
        let folder = URL(fileURLWithPath: path)
        for (index, frame) in video.frames.enumerated() {
            let file = folder.appendingPathComponent(Self.fileName(frame: index))
            do {
                try Data(Self.encode(width: video.width, height: video.height, rgb: frame)).write(to: file)
            } catch {
                throw MediaError("cannot write '\(file.path)': \(error.localizedDescription)")
            }
        }
        for name in (try? manager.contentsOfDirectory(atPath: path)) ?? [] {
            if let index = Self.frameIndex(fileName: name), index >= video.frameCount {
                try? manager.removeItem(at: folder.appendingPathComponent(name))
            }
        }
    }

    /// The index in a `frame_NNNNN.png` name, or nil for any other name.
    static func frameIndex(fileName name: String) -> Int? {
        guard name.hasPrefix("frame_"), name.hasSuffix(".png") else { return nil }
        let digits = name.dropFirst("frame_".count).dropLast(".png".count)
        guard digits.count >= 5, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    /// A chunk: length, type, data, CRC-32 of type and data.
    static func appendChunk(_ type: String, _ data: [UInt8], to file: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        file.appendBigEndian(UInt32(data.count))
        file += typeBytes
        file += data
        file.appendBigEndian(CRC32.checksum(data, continuing: CRC32.checksum(typeBytes)))
    }

    /// `bytes` as a zlib stream (RFC 1950) of stored deflate blocks (RFC 1951, BTYPE 00).
    static func zlibStored(_ bytes: [UInt8]) -> [UInt8] {
        // CMF 0x78: deflate with a 32 KiB window; FLG 0x01 makes CMF*256+FLG a multiple of 31.
        var out: [UInt8] = [0x78, 0x01]
        let blockLimit = 65535
        var start = 0
        repeat {
            let end = min(start + blockLimit, bytes.count)
            let length = UInt16(end - start)
            out.append(end == bytes.count ? 1 : 0) // BFINAL, BTYPE 00; the rest of the byte is padding
            out += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
            out += bytes[start ..< end]
            start = end
        } while start < bytes.count
        out.appendBigEndian(Adler32.checksum(bytes))
        return out
    }
}

extension [UInt8] {
    /// Appends `value` most significant byte first.
    mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
    }
}
