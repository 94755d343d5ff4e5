import Foundation

/// A model on disk in diffusers layout: a pipeline folder (`unet/`, optional `scheduler/`,
/// later `text_encoder/`, `tokenizer/`, `vae/`) or a bare UNet folder (`config.json` +
/// `diffusion_pytorch_model.safetensors`).
public struct ModelFolder: Sendable, Equatable {
    /// The folder holding the UNet's `config.json` and weights.
    public let unetPath: String
    /// `scheduler/scheduler_config.json` when the pipeline has one.
    public let schedulerConfigPath: String?

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
        let nested = root.appendingPathComponent("unet")
        if fileManager.fileExists(atPath: nested.appendingPathComponent("config.json").path) {
            unetPath = nested.path
            let scheduler = root.appendingPathComponent("scheduler/scheduler_config.json").path
            schedulerConfigPath = fileManager.fileExists(atPath: scheduler) ? scheduler : nil
        } else if fileManager.fileExists(atPath: root.appendingPathComponent("config.json").path) {
            unetPath = root.path
            schedulerConfigPath = nil
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
