import Tensor
import Foundation

/// diffusers' `DPMSolverMultistepScheduler` with the DPM-Solver++ algorithm (Lu et al., 2022)
/// and its SDE variant, of order 1, 2 or 3.
///
/// The solver keeps the converted model outputs of the last steps, so one instance runs one
/// denoising pass: copy a fresh scheduler for the next. `sde-dpmsolver++` needs standard normal
/// noise at every step. Scalars follow diffusers' float32 PyTorch arithmetic and the elementwise
/// updates are evaluated in the same order, so results match diffusers to float32 rounding.
public struct DPMSolverMultistepScheduler: Scheduler {
    /// The config the scheduler was built from.
    public let config: SchedulerConfig
    /// The timesteps of the inference steps, decreasing.
    public let timesteps: [Int]
    /// The noise level `sqrt((1 - alpha_cumprod) / alpha_cumprod)` at each timestep, followed by
    /// the level after the last step (0 or the smallest training sigma).
    public let sigmas: [Float]
    /// Always 1: the solver starts from standard normal noise.
    public var initNoiseSigma: Float { 1 }
    /// True for `sde-dpmsolver++`.
    public var needsNoise: Bool { config.algorithmType == .sdeDPMSolverPlusPlus }

    /// The data predictions of the last steps, oldest first (at most `solver_order` of them).
    private var history: [[Float]] = []
    /// How many steps have run; the index of the next timestep.
    private var stepIndex = 0

    /// A scheduler for `steps` inference steps.
    public init(config: SchedulerConfig, steps: Int) throws {
        var alphasCumprod = try NoiseSchedule(config: config).alphasCumprod
        if config.rescaleBetasZeroSNR {
            // diffusers keeps the first sigma finite this way (the smallest float16 subnormal).
            alphasCumprod[alphasCumprod.count - 1] = 0x1p-24
        }
        let timesteps = try Self.timesteps(config: config, steps: steps, alphasCumprod: alphasCumprod)
        let sigmaTable = alphasCumprod.map { ((1 - $0) / $0).squareRoot() }
        let finalSigma: Float = config.finalSigmasType == .sigmaMin ? sigmaTable[0] : 0
        self.config = config
        self.timesteps = timesteps
        sigmas = timesteps.map { sigmaTable[$0] } + [finalSigma]
    }

    /// `set_timesteps(steps)` of `DPMSolverMultistepScheduler`.
    static func timesteps(config: SchedulerConfig, steps: Int, alphasCumprod: [Float]) throws -> [Int] {
        let trainSteps = config.numTrainTimesteps
        guard (1...trainSteps).contains(steps) else {
            throw ModelError("DPMSolverMultistepScheduler: steps must be in 1...\(trainSteps) (num_train_timesteps), got \(steps)")
        }
        let lastTimestep = trainSteps - clippedCount(config: config, alphasCumprod: alphasCumprod)
        guard lastTimestep > 0 else {
            throw ModelError("DPMSolverMultistepScheduler: lambda_min_clipped \(config.lambdaMinClipped) "
                + "leaves no timestep of the training schedule")
        }
        let timesteps: [Int]
        switch config.timestepSpacing ?? .linspace {
        case .linspace:
            timesteps = TimestepGrid.linspace(to: Double(lastTimestep - 1), count: steps + 1)
                .dropFirst().reversed().map(TimestepGrid.round)
        case .leading:
            let ratio = lastTimestep / (steps + 1)
            timesteps = (1...steps).reversed().map { $0 * ratio + config.stepsOffset }
        case .trailing:
            timesteps = TimestepGrid.arangeDown(from: Double(lastTimestep), step: Double(trainSteps) / Double(steps))
                .map { TimestepGrid.round($0) - 1 }
        }
        try TimestepGrid.checkRange(timesteps, config: config, steps: steps, scheduler: "DPMSolverMultistepScheduler")
        // A repeated timestep would make a zero step in log-SNR (and a division by it).
        for index in timesteps.indices.dropFirst() where timesteps[index] >= timesteps[index - 1] {
            throw ModelError("DPMSolverMultistepScheduler: \(steps) steps with timestep_spacing "
                + "\((config.timestepSpacing ?? .linspace).rawValue) repeat timestep \(timesteps[index]); use fewer steps")
        }
        return timesteps
    }

    /// How many of the last training timesteps have a log-SNR below `lambda_min_clipped`:
    /// `torch.searchsorted(torch.flip(lambda_t, [0]), lambda_min_clipped)` in float32.
    private static func clippedCount(config: SchedulerConfig, alphasCumprod: [Float]) -> Int {
        guard config.lambdaMinClipped > -.infinity else { return 0 }
        let threshold = Float(config.lambdaMinClipped)
        let ascending = alphasCumprod.reversed().map { log($0.squareRoot()) - log((1 - $0).squareRoot()) }
        // PyTorch's binary search, so that a schedule that is not quite monotonic in float32
        // still gives the same index.
        var low = 0
        var high = ascending.count
        while low < high {
            let middle = low + (high - low) / 2
            if !(ascending[middle] >= threshold) {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low
    }

    /// The step position and the data predictions of the last steps.
    public var encodedState: [UInt8] {
        var encoder = StateEncoder()
        encoder.write(Self.stateTag)
        encoder.write(timesteps.count)
        encoder.write(stepIndex)
        encoder.write(history.count)
        for prediction in history { encoder.write(prediction) }
        return encoder.bytes
    }

    public mutating func restoreState(_ bytes: [UInt8]) throws {
        var decoder = StateDecoder(bytes, what: "DPMSolverMultistepScheduler state")
        try decoder.expectTag(Self.stateTag)
        let steps = try decoder.readInt()
        let index = try decoder.readInt()
        let count = try decoder.readInt()
        guard steps == timesteps.count, (0 ... steps).contains(index), (0 ... config.solverOrder).contains(count) else {
            throw ModelError("DPMSolverMultistepScheduler state: step \(index) of \(steps) with \(count) saved outputs "
                + "does not fit this \(timesteps.count)-step, order-\(config.solverOrder) schedule")
        }
        let restored = try (0 ..< count).map { _ in try decoder.readFloats() }
        try decoder.finish()
        stepIndex = index
        history = restored
    }

    /// "DPMS" version 1.
    private static let stateTag: UInt32 = 0x4450_4D31

    /// One DPM-Solver step: converts `modelOutput` to a data prediction, then takes a first, second
    /// or third order step from `sigmas[i]` to `sigmas[i + 1]`.
    public mutating func step(modelOutput: [Float], timestep: Int, sample: [Float], noise: [Float]?) throws -> [Float] {
        let name = "DPMSolverMultistepScheduler.step"
        guard stepIndex < timesteps.count else {
            throw ModelError("\(name): all \(timesteps.count) steps are done; make a new scheduler for another pass")
        }
        if stepIndex == 0, let start = timesteps.firstIndex(of: timestep) {
            // Like diffusers, the first call may start part-way through the schedule (image-to-image).
            stepIndex = start
        }
        guard timesteps[stepIndex] == timestep else {
            throw ModelError("\(name): expected timestep \(timesteps[stepIndex]) (step \(stepIndex + 1) of "
                + "\(timesteps.count)), got \(timestep)")
        }
        try checkStepInputs(modelOutput: modelOutput, sample: sample, noise: noise, needsNoise: needsNoise,
                            scheduler: "DPMSolverMultistepScheduler")

        let count = timesteps.count
        let isLast = stepIndex == count - 1
        let fewSteps = config.lowerOrderFinal && count < 15
        let firstOrderNow = isLast && (config.eulerAtFinal || fewSteps || config.finalSigmasType == .zero)
        let secondOrderNow = stepIndex == count - 2 && fewSteps

        history.append(dataPrediction(modelOutput: modelOutput, sample: sample))
        if history.count > config.solverOrder {
            history.removeFirst()
        }
        // Earlier outputs available, capped at solver_order - 1. diffusers counts these in
        // `lower_order_nums` (capped at solver_order) but only ever compares it with 1 and 2,
        // where the two agree.
        let previousOutputs = history.count - 1
        let noise = needsNoise ? noise ?? [] : []
        let next: [Float]
        if config.solverOrder == 1 || previousOutputs < 1 || firstOrderNow {
            next = firstOrderUpdate(sample: sample, noise: noise)
        } else if config.solverOrder == 2 || previousOutputs < 2 || secondOrderNow {
            next = secondOrderUpdate(sample: sample, noise: noise)
        } else {
            next = thirdOrderUpdate(sample: sample, noise: noise)
        }
        stepIndex += 1
        return next
    }

    // MARK: - Updates

    /// `alpha_t` and `sigma_t` of a noise level: `alpha = 1 / sqrt(sigma^2 + 1)`.
    private func alphaSigma(_ index: Int) -> (alpha: Float, sigma: Float) {
        let sigma = sigmas[index]
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        return (alpha, sigma * alpha)
    }

    /// The log signal-to-noise ratio `log(alpha) - log(sigma)` of a noise level.
    private func lambda(_ level: (alpha: Float, sigma: Float)) -> Float {
        log(level.alpha) - log(level.sigma)
    }

    /// `convert_model_output`: the predicted clean sample.
    private func dataPrediction(modelOutput: [Float], sample: [Float]) -> [Float] {
        let (alpha, sigma) = alphaSigma(stepIndex)
        switch config.predictionType {
        case .epsilon:
            return makeElements(sample.count) { (sample[$0] - sigma * modelOutput[$0]) / alpha }
        case .vPrediction:
            return makeElements(sample.count) { alpha * sample[$0] - sigma * modelOutput[$0] }
        case .sample:
            return modelOutput
        }
    }

    /// `dpm_solver_first_order_update` (DDIM in data-prediction form).
    private func firstOrderUpdate(sample: [Float], noise: [Float]) -> [Float] {
        let target = alphaSigma(stepIndex + 1)
        let source = alphaSigma(stepIndex)
        let h = lambda(target) - lambda(source)
        let m0 = history[history.count - 1]
        switch config.algorithmType {
        case .dpmSolverPlusPlus:
            let sampleWeight = target.sigma / source.sigma
            let outputWeight = target.alpha * (exp(-h) - 1)
            return makeElements(sample.count) { sampleWeight * sample[$0] - outputWeight * m0[$0] }
        case .sdeDPMSolverPlusPlus:
            let decay = exp(-2 * h)
            let sampleWeight = target.sigma / source.sigma * exp(-h)
            let outputWeight = target.alpha * (1 - decay)
            let noiseWeight = target.sigma * (1 - decay).squareRoot()
            return makeElements(sample.count) {
                sampleWeight * sample[$0] + outputWeight * m0[$0] + noiseWeight * noise[$0]
            }
        }
    }

    /// `multistep_dpm_solver_second_order_update`.
    private func secondOrderUpdate(sample: [Float], noise: [Float]) -> [Float] {
        let target = alphaSigma(stepIndex + 1)
        let source0 = alphaSigma(stepIndex)
        let source1 = alphaSigma(stepIndex - 1)
        let lambdaS0 = lambda(source0)
        let h = lambda(target) - lambdaS0
        let h0 = lambdaS0 - lambda(source1)
        let differenceWeight = 1 / (h0 / h)
        let m0 = history[history.count - 1]
        let m1 = history[history.count - 2]
        let (alpha, sigma) = target
        let heun = config.solverType == .heun
        switch config.algorithmType {
        case .dpmSolverPlusPlus:
            let sampleWeight = sigma / source0.sigma
            let d0Weight = alpha * (exp(-h) - 1)
            if heun {
                let d1Weight = alpha * ((exp(-h) - 1) / h + 1)
                return makeElements(sample.count) {
                    let d1 = differenceWeight * (m0[$0] - m1[$0])
                    return sampleWeight * sample[$0] - d0Weight * m0[$0] + d1Weight * d1
                }
            }
            let d1Weight = 0.5 * d0Weight
            return makeElements(sample.count) {
                let d1 = differenceWeight * (m0[$0] - m1[$0])
                return sampleWeight * sample[$0] - d0Weight * m0[$0] - d1Weight * d1
            }
        case .sdeDPMSolverPlusPlus:
            let decay = exp(-2 * h)
            let sampleWeight = sigma / source0.sigma * exp(-h)
            let d0Weight = alpha * (1 - decay)
            let d1Weight = heun ? alpha * ((1 - decay) / (-2 * h) + 1) : 0.5 * d0Weight
            let noiseWeight = sigma * (1 - decay).squareRoot()
            return makeElements(sample.count) {
                let d1 = differenceWeight * (m0[$0] - m1[$0])
                return sampleWeight * sample[$0] + d0Weight * m0[$0] + d1Weight * d1 + noiseWeight * noise[$0]
            }
        }
    }

    /// `multistep_dpm_solver_third_order_update`.
    private func thirdOrderUpdate(sample: [Float], noise: [Float]) -> [Float] {
        let target = alphaSigma(stepIndex + 1)
        let source0 = alphaSigma(stepIndex)
        let lambdaS0 = lambda(source0)
        let lambdaS1 = lambda(alphaSigma(stepIndex - 1))
        let h = lambda(target) - lambdaS0
        let r0 = (lambdaS0 - lambdaS1) / h
        let r1 = (lambdaS1 - lambda(alphaSigma(stepIndex - 2))) / h
        let weight10 = 1 / r0
        let weight11 = 1 / r1
        let d1Mix = r0 / (r0 + r1)
        let d2Scale = 1 / (r0 + r1)
        let m0 = history[history.count - 1]
        let m1 = history[history.count - 2]
        let m2 = history[history.count - 3]
        let (alpha, sigma) = target

        let sampleWeight: Float
        let d0Weight: Float
        let d1Weight: Float
        let d2Weight: Float
        let noiseWeight: Float
        // Weights are signed so that both algorithms share `x = a*s + b*D0 + c*D1 + d*D2 + e*noise`;
        // negating a float32 weight is exact, so this matches diffusers' subtractions bit for bit.
        switch config.algorithmType {
        case .dpmSolverPlusPlus:
            sampleWeight = sigma / source0.sigma
            d0Weight = -(alpha * (exp(-h) - 1))
            d1Weight = alpha * ((exp(-h) - 1) / h + 1)
            d2Weight = -(alpha * ((exp(-h) - 1 + h) / (h * h) - 0.5))
            noiseWeight = 0
        case .sdeDPMSolverPlusPlus:
            let decay = exp(-2 * h)
            sampleWeight = sigma / source0.sigma * exp(-h)
            d0Weight = alpha * (1 - decay)
            d1Weight = alpha * ((1 - decay) / (-2 * h) + 1)
            d2Weight = alpha * ((1 - decay - 2 * h) / ((2 * h) * (2 * h)) - 0.5)
            noiseWeight = sigma * (1 - decay).squareRoot()
        }
        let hasNoise = !noise.isEmpty
        return makeElements(sample.count) {
            let d10 = weight10 * (m0[$0] - m1[$0])
            let d11 = weight11 * (m1[$0] - m2[$0])
            let d1 = d10 + d1Mix * (d10 - d11)
            let d2 = d2Scale * (d10 - d11)
            let value = sampleWeight * sample[$0] + d0Weight * m0[$0] + d1Weight * d1 + d2Weight * d2
            return hasNoise ? value + noiseWeight * noise[$0] : value
        }
    }
}
