import CPUBackend
import Foundation
import Model
import Parallel
import Tensor
import TestSupport

/// Shared fixtures and helpers of the clip-parallel tests.
enum ParallelFixtures {
    /// `Tests/ModelTests/Fixtures`.
    static var root: String { DiffusersFixtures.root }

    static let backend = CPUBackend(threads: 2)

    static func model(_ name: String = "unet-tiny", backend: CPUBackend = backend) throws -> UNet3DConditionModel {
        try UNet3DConditionModel.load(path: "\(root)/\(name)", backend: backend)
    }

    static func tensor(_ file: SafeTensorsFile, _ name: String) throws -> Tensor {
        try backend.upload(file.floats(name), shape: file.shape(of: name)!)
    }
}

/// Runs one UNet forward per clip of `plan`, concurrently, each with its `DualScopeContext`,
/// and concatenates the clip outputs along frames: `[B, C, F_total, H, W]`.
func clipParallelForward(model: UNet3DConditionModel, plan: ClipPlan, config: VideoInfinityConfig,
                         sample: Tensor, timestep: Int, encoderHiddenStates: Tensor, forced: Bool = false,
                         exchange: (any ContextExchange)? = nil) async throws -> Tensor {
    let backend = model.backend
    let exchange = exchange ?? InProcessExchange(clipCount: plan.count)
    let batch = sample.shape[0]
    let timesteps = try backend.upload(Array(repeating: Float(timestep), count: batch), shape: [batch])
    let outputs = try await withThrowingTaskGroup(of: (Int, Tensor).self) { group in
        for clip in 0 ..< plan.count {
            let range = plan.frameRange(clip)
            let clipSample = try backend.slice(sample, axis: 2, start: range.lowerBound, length: range.count)
            let context = DualScopeContext(clip: clip, plan: plan, config: config, exchange: exchange, forward: 0,
                                           timestep: timestep, forced: forced)
            group.addTask {
                do {
                    return (clip, try await model(sample: clipSample, timestep: timesteps,
                                                  encoderHiddenStates: encoderHiddenStates, temporal: context))
                } catch {
                    await exchange.abort(error)
                    throw error
                }
            }
        }
        var outputs = [Tensor?](repeating: nil, count: plan.count)
        for try await (clip, output) in group { outputs[clip] = output }
        return outputs.map { $0! }
    }
    return try backend.concat(outputs, axis: 2)
}
