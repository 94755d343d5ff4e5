import Tensor

extension UNet3DConditionModel {
    /// Loads the UNet of the diffusers model folder at `path` (a pipeline folder with `unet/`
    /// or a bare UNet folder) onto `backend`.
    public static func load(path: String, backend: any Backend) throws -> UNet3DConditionModel {
        let folder = try ModelFolder(path: path)
        return try load(folder: folder, backend: backend)
    }

    /// Loads the UNet of `folder` onto `backend`.
    public static func load(folder: ModelFolder, backend: any Backend) throws -> UNet3DConditionModel {
        var config = try UNet3DConfig.load(path: folder.unetConfigPath)
        let weights = try SafeTensorsFile(path: folder.weightsPath)
        if weights.shape(of: "fps_embedding.linear_1.weight") != nil {
            config.fpsConditioning = true
        }
        do {
            return try UNet3DConditionModel(config: config, loader: WeightLoader(source: weights, backend: backend))
        } catch let error as ModelError {
            throw ModelError("\(folder.weightsPath): \(error.message)")
        }
    }
}
