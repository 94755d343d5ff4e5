import CPUBackend
import Model
import Tensor

/// `infinity forward`: one UNet forward on inputs from a safetensors file, for reference checks
/// against diffusers.
enum ForwardCommand {
    static func run(_ arguments: ArraySlice<String>) async throws {
        let options = try Arguments(arguments, options: Set(["model", "inputs", "out"]).union(BackendOption.optionNames))
        let backend = try BackendOption(options).make()
        let model = try UNet3DConditionModel.load(path: try options.required("model"), backend: backend)
        let inputs = try SafeTensorsFile(path: try options.required("inputs"))

        func input(_ name: String) throws -> Tensor {
            guard let shape = inputs.shape(of: name) else {
                throw ModelError("\(inputs.path): no tensor '\(name)' (inputs need sample, timestep, encoder_hidden_states\(model.config.fpsConditioning ? ", fps" : ""))")
            }
            return try backend.upload(inputs.floats(name), shape: shape)
        }
        let fps = model.config.fpsConditioning ? try input("fps") : nil
        let output = try await model(sample: input("sample"), timestep: input("timestep"),
                               encoderHiddenStates: input("encoder_hidden_states"), fps: fps)
        try SafeTensorsWriter.write([(name: "sample", shape: output.shape, values: backend.download(output))],
                                    to: try options.required("out"))
    }
}

