/// A diffusion noise scheduler set up for a fixed number of inference steps: it lists the
/// timesteps at which the model is evaluated and turns each model output into the next sample.
///
/// Samples, model outputs and noise are flat `Float` arrays holding the whole latent; every
/// scheduler here works elementwise, so the layout does not matter as long as all three agree.
/// Schedulers are values: copy one to run the same schedule again from the start.
public protocol Scheduler: Sendable {
    /// The timesteps to evaluate the model at, in order (decreasing).
    var timesteps: [Int] { get }

    /// The standard deviation of the initial noise: the sampler's starting latent is standard
    /// normal noise times this value.
    var initNoiseSigma: Float { get }

    /// Whether `step` needs fresh standard normal noise (a stochastic sampler).
    var needsNoise: Bool { get }

    /// Advances one step: `modelOutput` is the model's prediction at `timestep` for `sample`,
    /// which must be the next entry of `timesteps`. Returns the sample for the next timestep.
    ///
    /// `noise` must hold standard normal values, as many as `sample`, when `needsNoise` is true
    /// (diffusers draws it with `randn_tensor(model_output.shape, generator=...)` at every step);
    /// it is ignored otherwise.
    mutating func step(modelOutput: [Float], timestep: Int, sample: [Float], noise: [Float]?) throws -> [Float]

    /// What the scheduler has accumulated over its steps (position, multistep history), for
    /// checkpoints: the same scheduler, freshly made for the same steps, continues exactly
    /// after ``restoreState(_:)`` with these bytes.
    var encodedState: [UInt8] { get }

    /// Takes on the progress ``encodedState`` recorded; throws on bytes that are not a state of
    /// this scheduler kind and schedule.
    mutating func restoreState(_ bytes: [UInt8]) throws
}

extension Scheduler {
    /// Advances one step of a deterministic scheduler; see `step(modelOutput:timestep:sample:noise:)`.
    /// Throws when the scheduler needs noise.
    public mutating func step(modelOutput: [Float], timestep: Int, sample: [Float]) throws -> [Float] {
        try step(modelOutput: modelOutput, timestep: timestep, sample: sample, noise: nil)
    }
}

/// The scheduler algorithms implemented here, named by their diffusers class.
public enum SchedulerKind: String, Sendable, CaseIterable {
    /// diffusers' `DDIMScheduler`.
    case ddim = "DDIMScheduler"
    /// diffusers' `DPMSolverMultistepScheduler` (DPM-Solver++ and its SDE variant).
    case dpmSolverMultistep = "DPMSolverMultistepScheduler"
}

/// Builds a scheduler of `kind` (by default the kind the config's `_class_name` names) set up for
/// `steps` inference steps.
///
/// A config written for one kind works for the other the way diffusers' `from_config` does:
/// fields the other kind lacks are ignored, and fields the config does not set take the built
/// kind's defaults. So a DDIM config with `.dpmSolverMultistep` gives
/// `DPMSolverMultistepScheduler.from_config(ddim_config)`: DPM-Solver++ of order 2.
///
/// - Parameter eta: DDIM's `eta`, the weight of fresh noise at each step (0 is deterministic DDIM,
///   1 is DDPM-like). A positive `eta` makes the scheduler need noise. Only DDIM has it.
public func makeScheduler(config: SchedulerConfig, kind: SchedulerKind? = nil, steps: Int,
                          eta: Float = 0) throws -> any Scheduler {
    guard let kind = kind ?? config.defaultKind else {
        throw ModelError("scheduler config: _class_name \(config.className.map { "\"\($0)\"" } ?? "(absent)") "
            + "is not an implemented scheduler; choose one of "
            + SchedulerKind.allCases.map(\.rawValue).joined(separator: ", "))
    }
    switch kind {
    case .ddim:
        return try DDIMScheduler(config: config, steps: steps, eta: eta)
    case .dpmSolverMultistep:
        guard eta == 0 else {
            throw ModelError("eta = \(eta) is a DDIM setting; DPMSolverMultistepScheduler has no eta")
        }
        return try DPMSolverMultistepScheduler(config: config, steps: steps)
    }
}

/// Checks the arrays handed to `Scheduler.step` against each other.
func checkStepInputs(modelOutput: [Float], sample: [Float], noise: [Float]?, needsNoise: Bool,
                     scheduler: String) throws {
    guard modelOutput.count == sample.count else {
        throw ModelError("\(scheduler).step: modelOutput has \(modelOutput.count) values but sample has \(sample.count)")
    }
    guard needsNoise else { return }
    guard let noise else {
        throw ModelError("\(scheduler).step: this configuration is stochastic and needs noise "
            + "(\(sample.count) standard normal values) at every step")
    }
    guard noise.count == sample.count else {
        throw ModelError("\(scheduler).step: noise has \(noise.count) values but sample has \(sample.count)")
    }
}

/// `[Float]` of `count` values made by `value(i)`, written in place without per-element work
/// beyond `value` itself.
@inline(__always)
func makeElements(_ count: Int, _ value: (Int) -> Float) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        for index in 0..<count {
            buffer[index] = value(index)
        }
        initialized = count
    }
}
