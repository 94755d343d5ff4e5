import Foundation

/// A model on disk in diffusers layout: a pipeline folder (`unet/`, optional `scheduler/`,
/// `text_encoder/`, `tokenizer/`, later `vae/`) or a bare UNet folder (`config.json` +
/// `diffusion_pytorch_model.safetensors`).
public struct ModelFolder: Sendable, Equatable {
    /// The folder the model was resolved from, as given.
    public let rootPath: String
    /// The folder holding the UNet's `config.json` and weights.
    public let unetPath: String
    /// `scheduler/scheduler_config.json` when the pipeline has one.
    public let schedulerConfigPath: String?
    /// The pipeline's `text_encoder/` folder (a ``TinyTextEncoder``: `config.json`,
    /// `model.safetensors`) when it has one; nil for a bare UNet folder.
    public let textEncoderPath: String?
    /// The pipeline's `tokenizer/` folder (`vocab.json`) when it has one; nil for a bare UNet folder.
    public let tokenizerPath: String?

    /// Resolves `path`, which may be a pipeline folder or a UNet folder.
    public init(path: String) throws {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelError("model folder '\(path)' does not exist")
        }
        guard isDirectory.boolValue else {
            throw ModelError("model path '\(path)' is a file; expected a diffusers pipeline or UNet folder")
        }
        let root = URL(fileURLWithPath: path)
        rootPath = path
        func folder(_ name: String) -> String? {
            var isFolder: ObjCBool = false
            let candidate = root.appendingPathComponent(name).path
            return fileManager.fileExists(atPath: candidate, isDirectory: &isFolder) && isFolder.boolValue ? candidate : nil
        }
        let nested = root.appendingPathComponent("unet")
        if fileManager.fileExists(atPath: nested.appendingPathComponent("config.json").path) {
            unetPath = nested.path
            let scheduler = root.appendingPathComponent("scheduler/scheduler_config.json").path
            schedulerConfigPath = fileManager.fileExists(atPath: scheduler) ? scheduler : nil
            textEncoderPath = folder("text_encoder")
            tokenizerPath = folder("tokenizer")
        } else if fileManager.fileExists(atPath: root.appendingPathComponent("config.json").path) {
            unetPath = root.path
            schedulerConfigPath = nil
            textEncoderPath = nil
            tokenizerPath = nil
        } else {
            throw ModelError("'\(path)' holds neither unet/config.json (a diffusers pipeline) nor config.json (a UNet folder)")
        }
        guard fileManager.fileExists(atPath: weightsPath) else {
            throw ModelError("UNet folder '\(unetPath)' has no diffusion_pytorch_model.safetensors")
        }
    }

    /// The UNet's `config.json`.
    public var unetConfigPath: String { unetPath + "/config.json" }

    /// The UNet's weights.
    public var weightsPath: String { unetPath + "/diffusion_pytorch_model.safetensors" }
}
