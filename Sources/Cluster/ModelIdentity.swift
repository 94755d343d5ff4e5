import Foundation
import Model

/// What a worker reports about its model at registration: a name and a hash of the files that
/// determine its outputs, so the coordinator only puts clips of one job on identical weights.
public struct ModelIdentity: Sendable, Equatable {
    /// The model folder's name ("unet-tiny").
    public var name: String
    /// SHA-256 (lowercase hex) over the UNet's config.json and weights, each prefixed by its
    /// length so that no two file sets collide by concatenation.
    public var hash: String

    /// Hashes `folder`'s files (streamed; weights of any size).
    public init(folder: ModelFolder, path: String) throws {
        name = URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent
        var digest = SHA256()
        for file in [folder.unetConfigPath, folder.weightsPath] {
            guard let handle = FileHandle(forReadingAtPath: file) else {
                throw ModelError("\(file): cannot open to hash the model")
            }
            defer { try? handle.close() }
            let size = try handle.seekToEnd()
            try handle.seek(toOffset: 0)
            var prefix = StateLength(size)
            withUnsafeBytes(of: &prefix.value) { digest.update($0) }
            while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty {
                chunk.withUnsafeBytes { digest.update($0) }
            }
        }
        hash = digest.finalizeHex()
    }

    /// Whether a job's `model` field (a name or a hash) names this model.
    public func matches(_ requested: String) -> Bool {
        requested == name || requested.lowercased() == hash
    }
}

/// A file length as 8 little-endian bytes.
private struct StateLength {
    var value: UInt64
    init(_ size: UInt64) { value = size.littleEndian }
}
