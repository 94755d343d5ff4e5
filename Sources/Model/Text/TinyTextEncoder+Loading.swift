import Foundation
import Tensor

extension TinyTextEncoder {
    /// Loads the text encoder of the model root `folder`, which holds `text_encoder/`
    /// (`config.json`, `model.safetensors`) and `tokenizer/` (`vocab.json`), onto `backend`.
    /// The folder need not hold a UNet.
    public static func load(folder: String, backend: any Backend) throws -> TinyTextEncoder {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelError("model folder '\(folder)' does not exist or is not a folder")
        }
        let root = URL(fileURLWithPath: folder)
        return try load(textEncoderPath: root.appendingPathComponent("text_encoder").path,
                        tokenizerPath: root.appendingPathComponent("tokenizer").path, backend: backend)
    }

    /// Loads the text encoder of a resolved model folder onto `backend`; throws when the
    /// folder has no `text_encoder/` or `tokenizer/`.
    public static func load(modelFolder: ModelFolder, backend: any Backend) throws -> TinyTextEncoder {
        guard let textEncoderPath = modelFolder.textEncoderPath, let tokenizerPath = modelFolder.tokenizerPath else {
            throw ModelError("model folder '\(modelFolder.rootPath)' has no text_encoder/ and tokenizer/ folders: it cannot encode prompts")
        }
        return try load(textEncoderPath: textEncoderPath, tokenizerPath: tokenizerPath, backend: backend)
    }

    /// Loads `<textEncoderPath>/config.json` and `model.safetensors` with the tokenizer
    /// `<tokenizerPath>/vocab.json` onto `backend`. Every tensor's name and shape is checked
    /// against the config, and a checkpoint holding tensors the architecture does not use is
    /// rejected.
    public static func load(textEncoderPath: String, tokenizerPath: String, backend: any Backend) throws -> TinyTextEncoder {
        let configPath = textEncoderPath + "/config.json"
        let weightsPath = textEncoderPath + "/model.safetensors"
        let vocabPath = tokenizerPath + "/vocab.json"
        for path in [configPath, weightsPath, vocabPath] where !FileManager.default.fileExists(atPath: path) {
            throw ModelError("text encoder file '\(path)' does not exist")
        }
        let config = try TextEncoderConfig.load(path: configPath)
        let tokenizer = try TextTokenizer.load(path: vocabPath)
        let weights = try SafeTensorsFile(path: weightsPath)
        let loader = WeightLoader(source: weights, backend: backend)
        do {
            let encoder = try TinyTextEncoder(config: config, tokenizer: tokenizer, loader: loader)
            try loader.checkAllUsed()
            return encoder
        } catch let error as ModelError {
            throw ModelError("\(weightsPath) (config \(configPath), vocabulary \(vocabPath)): \(error.message)")
        }
    }
}
