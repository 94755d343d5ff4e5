import Foundation
import Testing
@testable import Model

/// The schedulers against diffusers 0.42.1 (`SchedulerReference.swift`, made by
/// `scripts/fixtures/make_scheduler_fixtures.py`), plus config parsing and bad input.
@Suite struct SchedulerTests {
    // MARK: - Reference inputs (the formulas in the generator's docstring)

    static func initialSample() -> [Float] {
        (0..<SchedulerReference.latentCount).map { Float(cos(Double($0) * 0.37) * 1.3) }
    }

    static func modelOutput(sample: [Float], step: Int) -> [Float] {
        sample.indices.map { Float(0.3) * sample[$0] + Float(0.1) * Float(sin(Double($0 + step))) }
    }

    static func noise(step: Int) -> [Float] {
        (0..<SchedulerReference.latentCount).map { Float(sin(Double($0) * 1.3 + Double(step) * 0.7)) }
    }

    static func referenceCase(_ name: String) throws -> SchedulerReference.Case {
        try #require(SchedulerReference.cases.first { $0.name == name })
    }

    static func scheduler(for reference: SchedulerReference.Case, steps: Int) throws -> any Scheduler {
        let config = try SchedulerConfig.parse(Data(reference.configJSON.utf8), source: reference.name)
        let kind: SchedulerKind = reference.kind == "ddim" ? .ddim : .dpmSolverMultistep
        return try makeScheduler(config: config, kind: kind, steps: steps, eta: reference.eta)
    }

    // MARK: - Parity with diffusers

    @Test(arguments: SchedulerReference.cases.map(\.name))
    func timestepsMatchDiffusers(name: String) throws {
        let reference = try Self.referenceCase(name)
        for (steps, expected) in reference.timesteps.sorted(by: { $0.key < $1.key }) {
            let scheduler = try Self.scheduler(for: reference, steps: steps)
            #expect(scheduler.timesteps == expected, "\(name), \(steps) steps")
        }
    }

    /// Every intermediate sample within 1e-5 relative (to max(1, |value|)) of diffusers'.
    /// Observed: at most 4.9e-7 for the 4-step runs, 7.1e-7 for 6-step DPM-Solver-3, 6.9e-7 for
    /// 25 steps, 1.1e-6 for 6-step SDE-DPM-Solver-3. The rest comes from PyTorch's float32
    /// `sqrt`/`exp`/`log` (SIMD and MKL versions, not always correctly rounded) in the per-step
    /// scalars, where Swift uses the correctly rounded `sqrt` and glibc's `expf`/`logf`.
    @Test(arguments: SchedulerReference.cases.map(\.name))
    func trajectoryMatchesDiffusers(name: String) throws {
        let reference = try Self.referenceCase(name)
        var scheduler = try Self.scheduler(for: reference, steps: reference.samples.count)
        #expect(scheduler.timesteps == reference.trajectoryTimesteps)
        #expect(scheduler.needsNoise == reference.usesNoise)
        #expect(scheduler.initNoiseSigma == 1)
        var sample = Self.initialSample()
        var worst: Float = 0
        for (step, timestep) in scheduler.timesteps.enumerated() {
            let output = Self.modelOutput(sample: sample, step: step)
            let noise = reference.usesNoise ? Self.noise(step: step) : nil
            sample = try scheduler.step(modelOutput: output, timestep: timestep, sample: sample, noise: noise)
            let expected = reference.samples[step]
            try #require(sample.count == expected.count)
            for (value, want) in zip(sample, expected) {
                worst = max(worst, abs(value - want) / max(1, abs(want)))
            }
        }
        #expect(worst <= 1e-5, "\(name): worst relative error \(worst)")
    }

    /// `alphas_cumprod` is bit-identical to PyTorch's for the three beta schedules. The zero-SNR
    /// rescale takes square roots, where PyTorch's vectorised float32 `sqrt` on the machine that
    /// made the reference is off by up to 1 ulp from IEEE's; that schedule is held to 5e-7
    /// (observed 3.0e-7; all values are in [0, 1]).
    @Test(arguments: SchedulerReference.schedules.map(\.name))
    func noiseScheduleMatchesTorch(name: String) throws {
        let reference = try #require(SchedulerReference.schedules.first { $0.name == name })
        let config = try SchedulerConfig.parse(Data(reference.configJSON.utf8))
        let schedule = try NoiseSchedule(config: config)
        #expect(schedule.alphasCumprod.count == 1000)
        let actual = reference.indices.map { schedule.alphasCumprod[$0] }
        if config.rescaleBetasZeroSNR {
            let worst = zip(actual, reference.alphasCumprod).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 5e-7, "\(name): worst error \(worst)")
            #expect(actual.last == 0)
        } else {
            #expect(actual == reference.alphasCumprod, "\(name)")
        }
    }

    @Test func dpmSolverDropsItsHistoryOnlyBetweenPasses() throws {
        // A copy taken before the first step replays the same pass.
        let reference = try Self.referenceCase("dpm2MTextToVideo")
        let fresh = try Self.scheduler(for: reference, steps: 4)
        var first = fresh
        var second = fresh
        var a = Self.initialSample()
        var b = a
        for (step, timestep) in fresh.timesteps.enumerated() {
            a = try first.step(modelOutput: Self.modelOutput(sample: a, step: step), timestep: timestep, sample: a)
            b = try second.step(modelOutput: Self.modelOutput(sample: b, step: step), timestep: timestep, sample: b)
        }
        #expect(a == b)
        #expect(a == reference.samples[3])
    }

    @Test func dpmSolverCanStartPartWayThrough() throws {
        // Image-to-image style: the first call names a later timestep; the update is then first order.
        var scheduler = try makeScheduler(config: .textToVideoDefault, kind: .dpmSolverMultistep, steps: 4)
        let sample = Self.initialSample()
        let next = try scheduler.step(modelOutput: Self.modelOutput(sample: sample, step: 0),
                                      timestep: scheduler.timesteps[2], sample: sample)
        #expect(next.count == sample.count)
        #expect(throws: ModelError.self) {
            try scheduler.step(modelOutput: sample, timestep: scheduler.timesteps[2], sample: sample)
        }
    }

    // MARK: - Config parsing

    /// damo-vilab/text-to-video-ms-1.7b's `scheduler/scheduler_config.json`, verbatim.
    static let textToVideoJSON = """
        {
          "_class_name": "DDIMScheduler",
          "_diffusers_version": "0.15.0.dev0",
          "beta_end": 0.012,
          "beta_schedule": "scaled_linear",
          "beta_start": 0.00085,
          "clip_sample": false,
          "num_train_timesteps": 1000,
          "prediction_type": "epsilon",
          "set_alpha_to_one": false,
          "skip_prk_steps": true,
          "steps_offset": 1,
          "trained_betas": null
        }
        """

    /// What diffusers 0.42.1's `DPMSolverMultistepScheduler().save_config()` writes (note
    /// Python's `-Infinity`).
    static let savedDPMSolverJSON = """
        {
          "_class_name": "DPMSolverMultistepScheduler",
          "_diffusers_version": "0.42.1",
          "algorithm_type": "sde-dpmsolver++",
          "beta_end": 0.02,
          "beta_schedule": "linear",
          "beta_start": 0.0001,
          "dynamic_thresholding_ratio": 0.995,
          "euler_at_final": false,
          "final_sigmas_type": "zero",
          "flow_shift": 1.0,
          "lambda_min_clipped": -Infinity,
          "lower_order_final": true,
          "num_train_timesteps": 1000,
          "prediction_type": "v_prediction",
          "rescale_betas_zero_snr": false,
          "sample_max_value": 1.0,
          "solver_order": 3,
          "solver_type": "heun",
          "steps_offset": 0,
          "thresholding": false,
          "time_shift_type": "exponential",
          "timestep_spacing": "trailing",
          "trained_betas": null,
          "use_beta_sigmas": false,
          "use_dynamic_shifting": false,
          "use_exponential_sigmas": false,
          "use_flow_sigmas": false,
          "use_karras_sigmas": false,
          "use_lu_lambdas": false,
          "variance_type": null
        }
        """

    @Test func textToVideoConfigParsesToTheBuiltInDefault() throws {
        let config = try SchedulerConfig.parse(Data(Self.textToVideoJSON.utf8))
        #expect(config == SchedulerConfig.textToVideoDefault)
        #expect(config.defaultKind == .ddim)
        #expect(config.className == "DDIMScheduler")
        #expect(config.betaStart == 0.00085)
        #expect(config.betaEnd == 0.012)
        #expect(config.betaSchedule == .scaledLinear)
        #expect(config.clipSample == false)
        #expect(config.setAlphaToOne == false)
        #expect(config.stepsOffset == 1)
        #expect(config.numTrainTimesteps == 1000)
        #expect(config.predictionType == .epsilon)
        #expect(config.timestepSpacing == nil)
        #expect(config.trainedBetas == nil)
        // Fields a DDIM config lacks keep DPM-Solver's defaults.
        #expect(config.solverOrder == 2)
        #expect(config.algorithmType == .dpmSolverPlusPlus)
        #expect(config.lowerOrderFinal)
        #expect(config.finalSigmasType == .zero)
        #expect(config.lambdaMinClipped == -.infinity)
    }

    @Test func defaultSchedulersOfTheTextToVideoConfig() throws {
        let ddim = try makeScheduler(config: .textToVideoDefault, steps: 50)
        #expect(ddim is DDIMScheduler)
        #expect(ddim.timesteps.first == 981)
        #expect(ddim.timesteps.last == 1)
        // Spacing unset: DDIM leads, DPM-Solver uses linspace, as diffusers' from_config does.
        let dpm = try makeScheduler(config: .textToVideoDefault, kind: .dpmSolverMultistep, steps: 50)
        let solver = try #require(dpm as? DPMSolverMultistepScheduler)
        #expect(solver.timesteps.first == 999)
        #expect(solver.timesteps.last == 20)
        #expect(solver.sigmas.count == 51)
        #expect(solver.sigmas.last == 0)
        #expect(!solver.needsNoise)
    }

    @Test func savedDPMSolverConfigParses() throws {
        let config = try SchedulerConfig.parse(Data(Self.savedDPMSolverJSON.utf8))
        #expect(config.defaultKind == .dpmSolverMultistep)
        #expect(config.algorithmType == .sdeDPMSolverPlusPlus)
        #expect(config.solverOrder == 3)
        #expect(config.solverType == .heun)
        #expect(config.predictionType == .vPrediction)
        #expect(config.timestepSpacing == .trailing)
        #expect(config.lambdaMinClipped == -.infinity)
        // DDIM-only fields keep DDIM's defaults.
        #expect(config.clipSample)
        #expect(config.setAlphaToOne)
        let scheduler = try makeScheduler(config: config, steps: 4)
        #expect(scheduler.needsNoise)
        #expect(scheduler.timesteps == [999, 749, 499, 249])
    }

    @Test func diffusersAliasesAreRewrittenLikeDiffusers() throws {
        let config = try SchedulerConfig.parse(Data(#"{"algorithm_type": "deis", "solver_type": "bh2"}"#.utf8))
        #expect(config.algorithmType == .dpmSolverPlusPlus)
        #expect(config.solverType == .midpoint)
        #expect(config.className == nil)
        #expect(config.defaultKind == nil)
    }

    @Test func trainedBetasAreUsedAsGiven() throws {
        var betas = Array(repeating: 0.5, count: 10)
        betas[9] = 0.25
        let json = #"{"num_train_timesteps": 10, "trained_betas": \#(betas)}"#
        let config = try SchedulerConfig.parse(Data(json.utf8))
        let schedule = try NoiseSchedule(config: config)
        #expect(schedule.betas == betas.map { Float($0) })
        #expect(schedule.alphasCumprod[1] == 0.25)
        #expect(schedule.alphasCumprod[9] == 0.75 * 0x1p-9)
    }

    /// Each unsupported or malformed value is rejected by an error naming the field and value.
    @Test(arguments: [
        (#"{"beta_schedule": "sigmoid"}"#, ["beta_schedule", "sigmoid"]),
        (#"{"prediction_type": "flow_prediction"}"#, ["prediction_type", "flow_prediction"]),
        (#"{"timestep_spacing": "karras"}"#, ["timestep_spacing", "karras"]),
        (#"{"thresholding": true}"#, ["thresholding", "true"]),
        (#"{"algorithm_type": "dpmsolver"}"#, ["algorithm_type", "dpmsolver"]),
        (#"{"algorithm_type": "sde-dpmsolver"}"#, ["algorithm_type", "sde-dpmsolver"]),
        (#"{"solver_type": "bh3"}"#, ["solver_type", "bh3"]),
        (#"{"final_sigmas_type": "sigma_max"}"#, ["final_sigmas_type", "sigma_max"]),
        (#"{"use_karras_sigmas": true}"#, ["use_karras_sigmas", "true"]),
        (#"{"use_exponential_sigmas": true}"#, ["use_exponential_sigmas", "true"]),
        (#"{"use_beta_sigmas": true}"#, ["use_beta_sigmas", "true"]),
        (#"{"use_lu_lambdas": true}"#, ["use_lu_lambdas", "true"]),
        (#"{"use_flow_sigmas": true}"#, ["use_flow_sigmas", "true"]),
        (#"{"use_dynamic_shifting": true}"#, ["use_dynamic_shifting", "true"]),
        (#"{"variance_type": "learned_range"}"#, ["variance_type", "learned_range"]),
        (#"{"solver_order": 4}"#, ["solver_order", "4"]),
        (#"{"num_train_timesteps": 0}"#, ["num_train_timesteps", "0"]),
        (#"{"num_train_timesteps": "1000"}"#, ["num_train_timesteps", "\"1000\""]),
        (#"{"steps_offset": 1.5}"#, ["steps_offset", "1.5"]),
        (#"{"steps_offset": -1}"#, ["steps_offset", "-1"]),
        (#"{"clip_sample": "no"}"#, ["clip_sample", "\"no\""]),
        (#"{"clip_sample_range": 0}"#, ["clip_sample_range", "0"]),
        (#"{"beta_end": 1.5}"#, ["beta_end", "1.5"]),
        (#"{"trained_betas": [0.1, 0.2]}"#, ["trained_betas", "2"]),
        (#"{"trained_betas": "none"}"#, ["trained_betas", "\"none\""]),
        (#"{"_class_name": 7}"#, ["_class_name", "7"]),
    ])
    func unsupportedValuesAreRejected(json: String, mentions: [String]) {
        do {
            _ = try SchedulerConfig.parse(Data(json.utf8), source: "test.json")
            Issue.record("\(json) was accepted")
        } catch let error as ModelError {
            #expect(error.message.hasPrefix("test.json: field '\(mentions[0])'"), "\(error.message)")
            for text in mentions {
                #expect(error.message.contains(text), "\(error.message) should mention \(text)")
            }
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func malformedDocumentsAreRejected() {
        #expect(throws: ModelError.self) { try SchedulerConfig.parse(Data("[1, 2]".utf8)) }
        #expect(throws: ModelError.self) { try SchedulerConfig.parse(Data("{".utf8)) }
        #expect(throws: ModelError.self) { try SchedulerConfig(contentsOfFile: "/nonexistent/scheduler_config.json") }
    }

    // MARK: - Bad input to schedulers

    @Test func schedulerArgumentsAreChecked() throws {
        let config = SchedulerConfig.textToVideoDefault
        for steps in [0, 1001] {
            #expect(throws: ModelError.self) { try makeScheduler(config: config, steps: steps) }
            #expect(throws: ModelError.self) { try makeScheduler(config: config, kind: .dpmSolverMultistep, steps: steps) }
        }
        #expect(throws: ModelError.self) { try makeScheduler(config: config, steps: 4, eta: -1) }
        #expect(throws: ModelError.self) { try makeScheduler(config: config, kind: .dpmSolverMultistep, steps: 4, eta: 0.5) }
        var pndm = config
        pndm.className = "PNDMScheduler"
        pndm.defaultKind = nil
        let error = #expect(throws: ModelError.self) { try makeScheduler(config: pndm, steps: 4) }
        #expect(error?.message.contains("PNDMScheduler") == true)
        // A steps_offset that pushes timesteps past the training range.
        var shifted = config
        shifted.stepsOffset = 10
        #expect(throws: ModelError.self) { try makeScheduler(config: shifted, steps: 1000) }
        // Leading DPM-Solver timesteps collapse when steps + 1 exceeds the training range.
        var leading = config
        leading.timestepSpacing = .leading
        #expect(throws: ModelError.self) { try makeScheduler(config: leading, kind: .dpmSolverMultistep, steps: 1000) }
    }

    @Test func stepInputsAreChecked() throws {
        let sample = Self.initialSample()
        for kind in SchedulerKind.allCases {
            var scheduler = try makeScheduler(config: .textToVideoDefault, kind: kind, steps: 4)
            let timestep = scheduler.timesteps[0]
            #expect(throws: ModelError.self) {
                try scheduler.step(modelOutput: Array(sample.dropLast()), timestep: timestep, sample: sample)
            }
            #expect(throws: ModelError.self) {
                try scheduler.step(modelOutput: sample, timestep: 1000, sample: sample)
            }
        }
        var sde = SchedulerConfig.textToVideoDefault
        sde.algorithmType = .sdeDPMSolverPlusPlus
        var stochastic = try makeScheduler(config: sde, kind: .dpmSolverMultistep, steps: 4)
        let noiseless = #expect(throws: ModelError.self) {
            try stochastic.step(modelOutput: sample, timestep: stochastic.timesteps[0], sample: sample)
        }
        #expect(noiseless?.message.contains("noise") == true)
        #expect(throws: ModelError.self) {
            try stochastic.step(modelOutput: sample, timestep: stochastic.timesteps[0], sample: sample, noise: [1])
        }
        var ddim = try makeScheduler(config: .textToVideoDefault, steps: 4, eta: 1)
        #expect(ddim.needsNoise)
        #expect(throws: ModelError.self) {
            try ddim.step(modelOutput: sample, timestep: ddim.timesteps[0], sample: sample)
        }
    }

    @Test func dpmSolverFollowsItsScheduleAndStops() throws {
        var scheduler = try makeScheduler(config: .textToVideoDefault, kind: .dpmSolverMultistep, steps: 2)
        var sample = Self.initialSample()
        let timesteps = scheduler.timesteps
        sample = try scheduler.step(modelOutput: sample, timestep: timesteps[0], sample: sample)
        let skipped = #expect(throws: ModelError.self) {
            try scheduler.step(modelOutput: sample, timestep: timesteps[0], sample: sample)
        }
        #expect(skipped?.message.contains("expected timestep \(timesteps[1])") == true)
        sample = try scheduler.step(modelOutput: sample, timestep: timesteps[1], sample: sample)
        let done = #expect(throws: ModelError.self) {
            try scheduler.step(modelOutput: sample, timestep: timesteps[1], sample: sample)
        }
        #expect(done?.message.contains("all 2 steps are done") == true)
    }
}
