import Foundation

/// What `infinity generate --out PATH` writes, chosen from the path.
public enum OutputFormat: Sendable, Equatable, CustomStringConvertible {
    /// An H.264 `.mp4` file (through ffmpeg).
    case mp4
    /// A YUV4MPEG2 `.y4m` file.
    case y4m
    /// A folder of `frame_00000.png`, `frame_00001.png`, ...
    case pngFolder
    /// The raw latents `[C, F, H, W]` as a `.safetensors` file.
    case safetensors

    /// The accepted forms of an output path, for error messages and help text.
    public static let acceptedForms =
        "a .mp4, .y4m or .safetensors file, or a folder for PNG frames (a path ending in '/', an existing folder, or a name without an extension)"

    /// The format for `path`: by its extension (any case) `.mp4`, `.y4m` or `.safetensors`; a
    /// folder of PNG frames for a path ending in `/`, an existing folder, or a last component
    /// without an extension. Anything else, and an existing file where a folder is meant, is
    /// an error that lists the accepted forms.
    public init(path: String) throws {
        guard !path.isEmpty else {
            throw MediaError("the output path is empty; give \(Self.acceptedForms)")
        }
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if path.hasSuffix("/") || (exists && isDirectory.boolValue) {
            self = .pngFolder
            return
        }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        // A leading dot starts a hidden name, not an extension.
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else {
            guard !exists else {
                throw MediaError("output '\(path)' has no extension, so it names a folder for PNG frames, but it is an existing file; give \(Self.acceptedForms)")
            }
            self = .pngFolder
            return
        }
        let pathExtension = name[name.index(after: dot)...].lowercased()
        switch pathExtension {
        case "mp4": self = .mp4
        case "y4m": self = .y4m
        case "safetensors": self = .safetensors
        default:
            throw MediaError("cannot write output '\(path)': unsupported extension '.\(pathExtension)'; give \(Self.acceptedForms)")
        }
    }

    /// Whether the format holds pixels (true) or raw latents (false).
    public var isVideo: Bool { self != .safetensors }

    public var description: String {
        switch self {
        case .mp4: "H.264 mp4"
        case .y4m: "y4m"
        case .pngFolder: "PNG frames"
        case .safetensors: "safetensors latents"
        }
    }
}
