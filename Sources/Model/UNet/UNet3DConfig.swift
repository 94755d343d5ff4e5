import Foundation

/// The architecture of a diffusers `UNet3DConditionModel`, read from its `config.json`.
///
/// Every field that changes the architecture is honoured; a value this runtime cannot run is
/// rejected by name when the config is read, before any weight is touched.
public struct UNet3DConfig: Sendable, Equatable {
    /// Block kinds on the way down.
    public enum DownBlock: String, Sendable, Equatable {
        case crossAttention = "CrossAttnDownBlock3D"
        case plain = "DownBlock3D"
    }

    /// Block kinds on the way up.
    public enum UpBlock: String, Sendable, Equatable {
        case crossAttention = "CrossAttnUpBlock3D"
        case plain = "UpBlock3D"
    }

    public var inChannels: Int = 4
    public var outChannels: Int = 4
    public var downBlockTypes: [DownBlock] = [.crossAttention, .crossAttention, .crossAttention, .plain]
    public var upBlockTypes: [UpBlock] = [.plain, .crossAttention, .crossAttention, .crossAttention]
    public var blockOutChannels: [Int] = [320, 640, 1280, 1280]
    public var layersPerBlock: Int = 2
    public var downsamplePadding: Int = 1
    public var midBlockScaleFactor: Float = 1
    public var normNumGroups: Int = 32
    public var normEpsilon: Float = 1e-5
    public var crossAttentionDim: Int = 1024
    /// diffusers' `attention_head_dim` per block: the head size of the block's spatial and
    /// temporal attentions (`channels / attention_head_dim` heads; diffusers passes it as
    /// `num_attention_heads` to the block, which swaps it back when building the transformers).
    /// `transformer_in` uses 8 heads of this size.
    public var attentionHeadDim: [Int] = [64, 64, 64, 64]
    /// VideoCrafter2's fps conditioning: `fps_embedding(fps_proj(fps))` added to the time
    /// embedding (after `time_embedding.linear_2`, before the per-frame repeat).
    public var fpsConditioning: Bool = false
    /// diffusers' `sample_size` (informational).
    public var sampleSize: Int?

    /// The defaults of diffusers' `UNet3DConditionModel.__init__`.
    public init() {}

    /// Width of the time embedding: `4 * block_out_channels[0]`.
    public var timeEmbedDim: Int { blockOutChannels[0] * 4 }

    /// Reads and validates `config.json` at `path`.
    public static func load(path: String) throws -> UNet3DConfig {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ModelError("cannot read UNet config '\(path)': \(error.localizedDescription)")
        }
        return try parse(data, source: path)
    }

    /// Parses and validates a `config.json` document; `source` names it in errors.
    public static func parse(_ data: Data, source: String) throws -> UNet3DConfig {
        try ConfigReader(ConfigValue.parseObject(data, source: source), source: source).unet3D()
    }
}

/// Field-by-field reading of a diffusers config dictionary with errors that name the field.
struct ConfigReader {
    let json: [String: ConfigValue]
    let source: String

    init(_ json: [String: ConfigValue], source: String) {
        self.json = json
        self.source = source
    }

    func fail(_ key: String, _ problem: String) -> ModelError {
        ModelError("\(source): field '\(key)' \(problem)")
    }

    /// True when the key is absent or JSON null.
    func isAbsent(_ key: String) -> Bool {
        json[key] == nil || json[key] == .null
    }

    func describe(_ key: String) -> String {
        json[key]?.text ?? "nothing"
    }

    func int(_ key: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard !isAbsent(key) else { return value }
        guard let result = json[key]?.integer else {
            throw fail(key, "must be an integer, got \(describe(key))")
        }
        guard range.contains(result) else {
            throw fail(key, "must be in \(range.lowerBound)...\(range.upperBound), got \(result)")
        }
        return result
    }

    func optionalInt(_ key: String, range: ClosedRange<Int>) throws -> Int? {
        isAbsent(key) ? nil : try int(key, default: 0, range: range)
    }

    func float(_ key: String, default value: Float, range: ClosedRange<Float>) throws -> Float {
        guard !isAbsent(key) else { return value }
        guard let number = json[key]?.number else {
            throw fail(key, "must be a number, got \(describe(key))")
        }
        let result = Float(number)
        guard range.contains(result) else {
            throw fail(key, "must be in \(range.lowerBound)...\(range.upperBound), got \(number)")
        }
        return result
    }

    func bool(_ key: String, default value: Bool) throws -> Bool {
        guard !isAbsent(key) else { return value }
        guard case .bool(let result) = json[key] else {
            throw fail(key, "must be true or false, got \(describe(key))")
        }
        return result
    }

    func strings(_ key: String, default value: [String]) throws -> [String] {
        guard !isAbsent(key) else { return value }
        guard case .array(let list) = json[key] else {
            throw fail(key, "must be a list of strings, got \(describe(key))")
        }
        return try list.map { element in
            guard case .string(let text) = element else {
                throw fail(key, "must be a list of strings, got \(describe(key))")
            }
            return text
        }
    }

    /// An integer list; a single integer is repeated `count` times (diffusers accepts both).
    func ints(_ key: String, default value: [Int], broadcastTo count: Int? = nil,
              range: ClosedRange<Int>) throws -> [Int] {
        guard !isAbsent(key) else { return value }
        let elements: [ConfigValue]
        switch json[key] {
        case .array(let list)?: elements = list
        case let single? where count != nil && single.number != nil:
            elements = Array(repeating: single, count: count!)
        default:
            throw fail(key, "must be a list of integers, got \(describe(key))")
        }
        return try elements.map { element in
            guard let number = element.integer, range.contains(number) else {
                throw fail(key, "must hold integers in \(range.lowerBound)...\(range.upperBound), got \(describe(key))")
            }
            return number
        }
    }

    /// Rejects a key whose value differs from the ones this runtime supports.
    func require(_ key: String, absentOr allowed: [String], because reason: String) throws {
        guard !isAbsent(key) else { return }
        guard case .string(let value) = json[key], allowed.contains(value) else {
            throw fail(key, "= \(describe(key)) is not supported (\(reason)); supported: \(allowed.joined(separator: ", "))")
        }
    }
}

extension ConfigReader {
    func unet3D() throws -> UNet3DConfig {
        if case .string(let name) = json["_class_name"],
           !["UNet3DConditionModel", "UNetVideoCrafter"].contains(name) {
            throw fail("_class_name", "= \(name) is not a UNet3DConditionModel")
        }
        var config = UNet3DConfig()
        config.sampleSize = try optionalInt("sample_size", range: 1 ... 1 << 20)
        config.inChannels = try int("in_channels", default: 4, range: 1 ... 1 << 16)
        config.outChannels = try int("out_channels", default: 4, range: 1 ... 1 << 16)
        config.downBlockTypes = try strings("down_block_types", default: config.downBlockTypes.map(\.rawValue))
            .map { name in
                guard let kind = UNet3DConfig.DownBlock(rawValue: name) else {
                    throw fail("down_block_types", "contains unsupported block \"\(name)\" (supported: CrossAttnDownBlock3D, DownBlock3D)")
                }
                return kind
            }
        config.upBlockTypes = try strings("up_block_types", default: config.upBlockTypes.map(\.rawValue))
            .map { name in
                guard let kind = UNet3DConfig.UpBlock(rawValue: name) else {
                    throw fail("up_block_types", "contains unsupported block \"\(name)\" (supported: CrossAttnUpBlock3D, UpBlock3D)")
                }
                return kind
            }
        let blocks = config.downBlockTypes.count
        guard blocks >= 1 else { throw fail("down_block_types", "must name at least one block") }
        guard config.upBlockTypes.count == blocks else {
            throw fail("up_block_types", "has \(config.upBlockTypes.count) blocks, down_block_types has \(blocks)")
        }
        config.blockOutChannels = try ints("block_out_channels", default: config.blockOutChannels, range: 1 ... 1 << 16)
        guard config.blockOutChannels.count == blocks else {
            throw fail("block_out_channels", "has \(config.blockOutChannels.count) entries, down_block_types has \(blocks)")
        }
        config.layersPerBlock = try int("layers_per_block", default: 2, range: 1 ... 64)
        config.downsamplePadding = try int("downsample_padding", default: 1, range: 1 ... 1)
        config.midBlockScaleFactor = try float("mid_block_scale_factor", default: 1, range: 1e-6 ... 1e6)
        if json["norm_num_groups"] == .null {
            throw fail("norm_num_groups", "= null is not supported (the 3-D blocks need group norms)")
        }
        config.normNumGroups = try int("norm_num_groups", default: 32, range: 1 ... 1 << 16)
        for channels in config.blockOutChannels where channels % config.normNumGroups != 0 {
            throw fail("norm_num_groups", "= \(config.normNumGroups) does not divide block_out_channels entry \(channels)")
        }
        config.normEpsilon = try float("norm_eps", default: 1e-5, range: 0 ... 1)
        config.crossAttentionDim = try int("cross_attention_dim", default: 1024, range: 1 ... 1 << 16)
        if !isAbsent("num_attention_heads") {
            throw fail("num_attention_heads", "must be null: diffusers' UNet3DConditionModel takes the head count from attention_head_dim")
        }
        if case .array = json["attention_head_dim"] {
            throw fail("attention_head_dim", "must be a single integer: UNet3DConditionModel's transformer_in cannot use a per-block list")
        }
        config.attentionHeadDim = try ints("attention_head_dim", default: [64], broadcastTo: blocks, range: 1 ... 1 << 12)
        for (index, channels) in config.blockOutChannels.enumerated() where channels % config.attentionHeadDim[index] != 0 {
            throw fail("attention_head_dim", "= \(config.attentionHeadDim[index]) does not divide block \(index)'s \(channels) channels into heads")
        }
        try require("act_fn", absentOr: ["silu", "swish"], because: "the resnets and time embedding use SiLU")
        if !isAbsent("time_cond_proj_dim") {
            throw fail("time_cond_proj_dim", "is not supported (timestep conditioning projection)")
        }
        // VideoCrafter2 checkpoints in diffusers layout (Video-Infinity's `UNetVideoCrafter`)
        // register `fps_cond`; `load(folder:)` also turns it on when the weights carry `fps_embedding`.
        config.fpsConditioning = try bool("fps_cond", default: false)
        return config
    }
}
