import Foundation
import Model
import Tensor
import TestSupport
import Testing

/// The UNet forward against diffusers' output on the same weights and inputs.
@Suite("UNet3DConditionModel parity with diffusers")
struct UNetParityTests {
    /// Max abs error relative to the reference output's largest magnitude.
    static let tolerance: Float = 1e-4

    @Test("forward matches diffusers", arguments: ["unet-tiny", "unet-fps"])
    func forwardMatchesDiffusers(name: String) async throws {
        let model = try Fixtures.model(name)
        let inputs = try SafeTensorsFile(path: Fixtures.path(name, "forward-inputs.safetensors"))
        let expected = try SafeTensorsFile(path: Fixtures.path(name, "forward-output.safetensors")).floats("sample")
        let fps = model.config.fpsConditioning ? try Fixtures.tensor(inputs, "fps") : nil
        let output = try await model(sample: Fixtures.tensor(inputs, "sample"), timestep: Fixtures.tensor(inputs, "timestep"),
                               encoderHiddenStates: Fixtures.tensor(inputs, "encoder_hidden_states"), fps: fps)
        #expect(output.shape == inputs.shape(of: "sample"))
        let values = try Fixtures.backend.download(output)
        let scale = maxAbs(expected)
        #expect(scale > 0.5, "reference output is degenerate")
        #expect(maxAbsDifference(values, expected) <= Self.tolerance * scale)
    }

    @Test("fps-conditioned model reads fps_cond and the fps_embedding weights")
    func fpsConfig() throws {
        #expect(try Fixtures.model("unet-fps").config.fpsConditioning)
        #expect(try !Fixtures.model("unet-tiny").config.fpsConditioning)
    }

    @Test("the fps value changes the output (the conditioning path is live)")
    func fpsMatters() async throws {
        let model = try Fixtures.model("unet-fps")
        let inputs = try SafeTensorsFile(path: Fixtures.path("unet-fps", "forward-inputs.safetensors"))
        func run(_ fps: [Float]) async throws -> [Float] {
            try Fixtures.backend.download(await model(
                sample: Fixtures.tensor(inputs, "sample"), timestep: Fixtures.tensor(inputs, "timestep"),
                encoderHiddenStates: Fixtures.tensor(inputs, "encoder_hidden_states"),
                fps: Fixtures.backend.upload(fps, shape: [2])))
        }
        #expect(maxAbsDifference(try await run([24, 24]), try await run([8, 8])) > 1e-2)
    }

    @Test("bad inputs are rejected with messages that name the problem")
    func badInputs() async throws {
        let model = try Fixtures.model("unet-tiny")
        let backend = Fixtures.backend
        let sample = try backend.zeros([1, 4, 2, 4, 4])
        let timestep = try backend.zeros([1])
        let context = try backend.zeros([1, 3, 16])
        await #expect(throws: ModelError("sample has 3 channels, the model takes 4")) {
            try await model(sample: backend.zeros([1, 3, 2, 4, 4]), timestep: timestep, encoderHiddenStates: context)
        }
        await #expect(throws: ModelError("timestep must be [1] (one per batch row), got shape [2]")) {
            try await model(sample: sample, timestep: backend.zeros([2]), encoderHiddenStates: context)
        }
        await #expect(throws: ModelError("encoder_hidden_states must be [1, tokens, 16], got shape [1, 3, 8]")) {
            try await model(sample: sample, timestep: timestep, encoderHiddenStates: backend.zeros([1, 3, 8]))
        }
        await #expect(throws: ModelError("fps was given but the model has no fps conditioning")) {
            try await model(sample: sample, timestep: timestep, encoderHiddenStates: context, fps: backend.zeros([1]))
        }
    }

    @Test("odd spatial sizes run (upsampling to the skip's size, as diffusers forwards upsample_size)")
    func oddSizes() async throws {
        let model = try Fixtures.model("unet-tiny")
        let backend = Fixtures.backend
        let output = try await model(sample: backend.zeros([1, 4, 3, 5, 7]), timestep: backend.zeros([1]),
                               encoderHiddenStates: backend.zeros([1, 2, 16]))
        #expect(output.shape == [1, 4, 3, 5, 7])
    }
}
