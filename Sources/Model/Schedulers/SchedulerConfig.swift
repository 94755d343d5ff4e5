import Foundation

/// The settings of a diffusers noise scheduler, as in a pipeline's
/// `scheduler/scheduler_config.json`, for `DDIMScheduler` and `DPMSolverMultistepScheduler`.
///
/// One value holds the fields of both classes, so a config written for one can build the other
/// (see `makeScheduler(config:kind:steps:eta:)`). Fields a file does not set keep the diffusers
/// default of the class that owns the field. `timestepSpacing` is the one shared field whose
/// default differs between the classes, so it stays `nil` when the file does not set it.
///
/// Values this runtime cannot honour (dynamic thresholding, Karras sigmas, learned variance, ...)
/// are rejected when parsing, with an error naming the field and the value.
public struct SchedulerConfig: Sendable, Equatable {
    /// How betas grow over the training timesteps (`beta_schedule`).
    public enum BetaSchedule: String, Sendable, CaseIterable {
        /// Evenly spaced from `beta_start` to `beta_end`.
        case linear
        /// Evenly spaced square roots, squared (latent diffusion models).
        case scaledLinear = "scaled_linear"
        /// The Glide cosine schedule (`beta_start`/`beta_end` unused).
        case squaredCosCapV2 = "squaredcos_cap_v2"
    }

    /// What the model predicts (`prediction_type`).
    public enum PredictionType: String, Sendable, CaseIterable {
        /// The noise that was added.
        case epsilon
        /// The velocity `alpha_t * noise - sigma_t * sample` (Imagen Video, section 2.4).
        case vPrediction = "v_prediction"
        /// The denoised sample itself.
        case sample
    }

    /// How inference timesteps are spread over the training range (`timestep_spacing`); see
    /// table 2 of "Common Diffusion Noise Schedules and Sample Steps are Flawed".
    public enum TimestepSpacing: String, Sendable, CaseIterable {
        /// Multiples of `num_train_timesteps / steps`, plus `steps_offset`.
        case leading
        /// Counted down from the last training timestep.
        case trailing
        /// Evenly spaced over the whole range, rounded.
        case linspace
    }

    /// DPM-Solver's algorithm (`algorithm_type`).
    public enum AlgorithmType: String, Sendable, CaseIterable {
        /// DPM-Solver++: an ODE solver on the data prediction.
        case dpmSolverPlusPlus = "dpmsolver++"
        /// The SDE variant of DPM-Solver++: adds fresh noise at every step.
        case sdeDPMSolverPlusPlus = "sde-dpmsolver++"
    }

    /// DPM-Solver's second-order update rule (`solver_type`).
    public enum SolverType: String, Sendable, CaseIterable {
        /// The midpoint rule (recommended by diffusers).
        case midpoint
        /// Heun's rule.
        case heun
    }

    /// The noise level after the last DPM-Solver step (`final_sigmas_type`).
    public enum FinalSigmasType: String, Sendable, CaseIterable {
        /// Fully denoised: sigma 0.
        case zero
        /// The smallest training sigma.
        case sigmaMin = "sigma_min"
    }

    /// The file's `_class_name`, if it has one.
    public var className: String?
    /// The scheduler `_class_name` names, or nil when it names one not implemented here.
    public var defaultKind: SchedulerKind?

    /// `num_train_timesteps`: the length of the training noise schedule.
    public var numTrainTimesteps = 1000
    /// `beta_start`: the first beta of a linear or scaled linear schedule.
    public var betaStart = 0.0001
    /// `beta_end`: the last beta of a linear or scaled linear schedule.
    public var betaEnd = 0.02
    /// `beta_schedule`.
    public var betaSchedule = BetaSchedule.linear
    /// `trained_betas`: explicit betas replacing `beta_schedule` (one per training timestep).
    public var trainedBetas: [Double]?
    /// `prediction_type`.
    public var predictionType = PredictionType.epsilon
    /// `timestep_spacing`, or nil for the scheduler's default (DDIM: leading, DPM-Solver: linspace).
    public var timestepSpacing: TimestepSpacing?
    /// `steps_offset`: added to leading timesteps.
    public var stepsOffset = 0
    /// `rescale_betas_zero_snr`: rescale betas so that the last timestep is pure noise.
    public var rescaleBetasZeroSNR = false

    /// DDIM's `clip_sample`: clamp the predicted clean sample to `±clipSampleRange`.
    public var clipSample = true
    /// DDIM's `clip_sample_range`.
    public var clipSampleRange = 1.0
    /// DDIM's `set_alpha_to_one`: the step past timestep 0 reaches alpha 1 (else alpha at 0).
    public var setAlphaToOne = true

    /// DPM-Solver's `solver_order`: 1, 2 or 3.
    public var solverOrder = 2
    /// DPM-Solver's `algorithm_type`.
    public var algorithmType = AlgorithmType.dpmSolverPlusPlus
    /// DPM-Solver's `solver_type`.
    public var solverType = SolverType.midpoint
    /// DPM-Solver's `lower_order_final`: first/second order for the last steps when there are
    /// fewer than 15 steps.
    public var lowerOrderFinal = true
    /// DPM-Solver's `euler_at_final`: first order for the last step.
    public var eulerAtFinal = false
    /// DPM-Solver's `final_sigmas_type`.
    public var finalSigmasType = FinalSigmasType.zero
    /// DPM-Solver's `lambda_min_clipped`: timesteps whose log-SNR is below this are not used
    /// (matters for the cosine schedule).
    public var lambdaMinClipped = -Double.infinity

    /// A config with every field at its diffusers default; `kind` sets `_class_name`.
    public init(kind: SchedulerKind = .ddim) {
        className = kind.rawValue
        defaultKind = kind
    }

    /// The `scheduler_config.json` of damo-vilab/text-to-video-ms-1.7b (a DDIM scheduler with
    /// beta 0.00085...0.012 scaled linear, no clipping, `set_alpha_to_one` false, steps offset 1,
    /// 1000 training steps, epsilon prediction), for models without a scheduler folder.
    ///
    /// Like that file it leaves `timestep_spacing` unset: DDIM uses leading spacing, and a
    /// DPM-Solver built from it uses linspace, as in diffusers.
    public static let textToVideoDefault: SchedulerConfig = {
        var config = SchedulerConfig(kind: .ddim)
        config.betaStart = 0.00085
        config.betaEnd = 0.012
        config.betaSchedule = .scaledLinear
        config.clipSample = false
        config.setAlphaToOne = false
        config.stepsOffset = 1
        return config
    }()

    /// Reads a `scheduler_config.json` file.
    public init(contentsOfFile path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ModelError("cannot read scheduler config '\(path)': \(error.localizedDescription)")
        }
        self = try SchedulerConfig.parse(data, source: path)
    }

    /// Parses and validates a scheduler config document; `source` names it in errors.
    ///
    /// Unknown fields are ignored (as diffusers does, e.g. PNDM's `skip_prk_steps`); JSON5
    /// extras such as `-Infinity` (which Python's `json` writes for `lambda_min_clipped`) are read.
    public static func parse(_ data: Data, source: String = "scheduler config") throws -> SchedulerConfig {
        let fields = try ConfigValue.parseObject(data, source: source)
        return try Reader(fields: fields, source: source).config()
    }

    /// Throws when a field holds a value the schedulers cannot use (also checked for configs built
    /// in code); `source` names the config in errors.
    func validate(source: String = "scheduler config") throws {
        func fail(_ field: String, _ problem: String) -> ModelError {
            ModelError("\(source): field '\(field)' \(problem)")
        }
        guard (1...1_000_000).contains(numTrainTimesteps) else {
            throw fail("num_train_timesteps", "must be in 1...1000000, got \(numTrainTimesteps)")
        }
        if let trainedBetas {
            guard trainedBetas.count == numTrainTimesteps else {
                throw fail("trained_betas", "has \(trainedBetas.count) values but num_train_timesteps is \(numTrainTimesteps)")
            }
            if let bad = trainedBetas.first(where: { !($0 >= 0 && $0 < 1) }) {
                throw fail("trained_betas", "must hold values in [0, 1), got \(bad)")
            }
        } else if betaSchedule != .squaredCosCapV2 {
            for (field, value) in [("beta_start", betaStart), ("beta_end", betaEnd)] where !(value >= 0 && value < 1) {
                throw fail(field, "must be in [0, 1), got \(value)")
            }
        }
        guard stepsOffset >= 0 else {
            throw fail("steps_offset", "must not be negative, got \(stepsOffset)")
        }
        guard clipSampleRange > 0, clipSampleRange.isFinite else {
            throw fail("clip_sample_range", "must be a positive number, got \(clipSampleRange)")
        }
        guard (1...3).contains(solverOrder) else {
            throw fail("solver_order", "must be 1, 2 or 3, got \(solverOrder)")
        }
        guard !lambdaMinClipped.isNaN else {
            throw fail("lambda_min_clipped", "must be a number, got nan")
        }
    }
}

// MARK: - Reading JSON

extension SchedulerConfig {
    /// Field-by-field reading with errors that name the field and the value.
    private struct Reader {
        let fields: [String: ConfigValue]
        let source: String

        func fail(_ key: String, _ problem: String) -> ModelError {
            ModelError("\(source): field '\(key)' \(problem)")
        }

        /// The field's value; nil when absent or null (diffusers then uses its default).
        func value(_ key: String) -> ConfigValue? {
            guard let value = fields[key], value != .null else { return nil }
            return value
        }

        func int(_ key: String) throws -> Int? {
            guard let value = value(key) else { return nil }
            guard let number = value.integer else {
                throw fail(key, "must be an integer, got \(value.text)")
            }
            return number
        }

        func double(_ key: String) throws -> Double? {
            guard let value = value(key) else { return nil }
            guard let number = value.number else {
                throw fail(key, "must be a number, got \(value.text)")
            }
            return number
        }

        func bool(_ key: String) throws -> Bool? {
            guard let value = value(key) else { return nil }
            guard case .bool(let flag) = value else {
                throw fail(key, "must be true or false, got \(value.text)")
            }
            return flag
        }

        /// One of `type`'s raw values; `aliases` maps further names diffusers itself rewrites.
        func choice<Choice: RawRepresentable & CaseIterable>(
            _ key: String, _ type: Choice.Type, aliases: [String: Choice] = [:], rejecting reasons: [String: String] = [:]
        ) throws -> Choice? where Choice.RawValue == String {
            guard let value = value(key) else { return nil }
            guard case .string(let name) = value else {
                throw fail(key, "must be a string, got \(value.text)")
            }
            if let choice = Choice(rawValue: name) ?? aliases[name] {
                return choice
            }
            let supported = Choice.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            let reason = reasons[name].map { " (\($0))" } ?? ""
            throw fail(key, "= \"\(name)\" is not supported\(reason); supported: \(supported)")
        }

        /// Rejects a flag that selects a feature not implemented here.
        func requireFalse(_ key: String, _ feature: String) throws {
            if try bool(key) == true {
                throw fail(key, "= true is not supported (\(feature) is not implemented)")
            }
        }

        func config() throws -> SchedulerConfig {
            var config = SchedulerConfig()
            switch value("_class_name") {
            case nil:
                config.className = nil
                config.defaultKind = nil
            case .string(let name)?:
                config.className = name
                config.defaultKind = SchedulerKind(rawValue: name)
            case let other?:
                throw fail("_class_name", "must be a string, got \(other.text)")
            }

            config.numTrainTimesteps = try int("num_train_timesteps") ?? config.numTrainTimesteps
            config.betaStart = try double("beta_start") ?? config.betaStart
            config.betaEnd = try double("beta_end") ?? config.betaEnd
            config.betaSchedule = try choice("beta_schedule", BetaSchedule.self) ?? config.betaSchedule
            if let betas = value("trained_betas") {
                guard case .array(let elements) = betas else {
                    throw fail("trained_betas", "must be a list of numbers or null, got \(betas.text)")
                }
                config.trainedBetas = try elements.map { element in
                    guard let number = element.number else {
                        throw fail("trained_betas", "must hold numbers, got \(element.text)")
                    }
                    return number
                }
            }
            config.predictionType = try choice(
                "prediction_type", PredictionType.self,
                rejecting: ["flow_prediction": "flow matching models are not supported"]
            ) ?? config.predictionType
            config.timestepSpacing = try choice("timestep_spacing", TimestepSpacing.self)
            config.stepsOffset = try int("steps_offset") ?? config.stepsOffset
            config.rescaleBetasZeroSNR = try bool("rescale_betas_zero_snr") ?? config.rescaleBetasZeroSNR
            try requireFalse("thresholding", "dynamic thresholding, meant for pixel-space models,")

            config.clipSample = try bool("clip_sample") ?? config.clipSample
            config.clipSampleRange = try double("clip_sample_range") ?? config.clipSampleRange
            config.setAlphaToOne = try bool("set_alpha_to_one") ?? config.setAlphaToOne

            config.solverOrder = try int("solver_order") ?? config.solverOrder
            // diffusers itself turns DEIS's and UniPC's names into these when it builds the
            // scheduler from their configs; do the same so those configs load here too.
            config.algorithmType = try choice(
                "algorithm_type", AlgorithmType.self, aliases: ["deis": .dpmSolverPlusPlus],
                rejecting: ["dpmsolver": "deprecated in diffusers; use dpmsolver++",
                            "sde-dpmsolver": "deprecated in diffusers; use sde-dpmsolver++"]
            ) ?? config.algorithmType
            config.solverType = try choice(
                "solver_type", SolverType.self,
                aliases: ["logrho": .midpoint, "bh1": .midpoint, "bh2": .midpoint]
            ) ?? config.solverType
            config.lowerOrderFinal = try bool("lower_order_final") ?? config.lowerOrderFinal
            config.eulerAtFinal = try bool("euler_at_final") ?? config.eulerAtFinal
            config.finalSigmasType = try choice("final_sigmas_type", FinalSigmasType.self) ?? config.finalSigmasType
            config.lambdaMinClipped = try double("lambda_min_clipped") ?? config.lambdaMinClipped
            try requireFalse("use_karras_sigmas", "the Karras sigma schedule")
            try requireFalse("use_exponential_sigmas", "the exponential sigma schedule")
            try requireFalse("use_beta_sigmas", "the beta sigma schedule")
            try requireFalse("use_lu_lambdas", "the uniform log-SNR schedule")
            try requireFalse("use_flow_sigmas", "the flow matching sigma schedule")
            try requireFalse("use_dynamic_shifting", "dynamic timestep shifting")
            if let variance = value("variance_type") {
                throw fail("variance_type", "= \(variance.text) is not supported (models that predict their "
                    + "variance are not implemented); supported: null")
            }

            try config.validate(source: source)
            return config
        }
    }
}

