import Foundation

/// The architecture of a ``TinyTextEncoder``, read from `text_encoder/config.json`:
/// `{"architecture": "TinyTextEncoder", "vocab_size": V, "width": 32, "layers": 2, "heads": 4,
/// "max_length": 8, "mlp_ratio": 4, "layer_norm_eps": 1e-5}`.
///
/// Every field is required and honoured; a bad value, an unknown architecture or a key this
/// runtime does not know (other than `_`-prefixed metadata) is rejected by name.
public struct TextEncoderConfig: Sendable, Equatable {
    /// The one architecture this runtime implements.
    public static let architecture = "TinyTextEncoder"
    /// The keys a config may hold besides `_`-prefixed metadata.
    static let knownKeys: Set<String> = ["architecture", "vocab_size", "width", "layers", "heads",
                                         "max_length", "mlp_ratio", "layer_norm_eps"]

    /// Rows of the token embedding: the tokenizer's token count.
    public var vocabSize: Int
    /// Width of every token state: the UNet's `cross_attention_dim`.
    public var width: Int
    /// Number of transformer layers.
    public var layers: Int
    /// Attention heads per layer; divides ``width``.
    public var heads: Int
    /// Tokens per sequence: rows of the position embedding.
    public var maxLength: Int
    /// The MLP's hidden width is `width * mlpRatio`.
    public var mlpRatio: Int
    /// The epsilon of every layer norm.
    public var layerNormEpsilon: Float

    /// A config with the given fields (not validated; ``parse(_:source:)`` validates).
    public init(vocabSize: Int, width: Int = 32, layers: Int = 2, heads: Int = 4, maxLength: Int = 8,
                mlpRatio: Int = 4, layerNormEpsilon: Float = 1e-5) {
        self.vocabSize = vocabSize
        self.width = width
        self.layers = layers
        self.heads = heads
        self.maxLength = maxLength
        self.mlpRatio = mlpRatio
        self.layerNormEpsilon = layerNormEpsilon
    }

    /// Width of one attention head.
    public var headDim: Int { width / heads }

    /// Reads and validates the `config.json` at `path`.
    public static func load(path: String) throws -> TextEncoderConfig {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ModelError("cannot read text encoder config '\(path)': \(error.localizedDescription)")
        }
        return try parse(data, source: path)
    }

    /// Parses and validates a `config.json` document; `source` names it in errors.
    public static func parse(_ data: Data, source: String) throws -> TextEncoderConfig {
        let reader = try ConfigReader(ConfigValue.parseObject(data, source: source), source: source)
        let architecture = try reader.requiredString("architecture")
        guard architecture == Self.architecture else {
            throw reader.fail("architecture", "= \"\(architecture)\" is not supported; supported: \(Self.architecture)")
        }
        let unknown = reader.json.keys.filter { !knownKeys.contains($0) && !$0.hasPrefix("_") }.sorted()
        guard unknown.isEmpty else {
            throw ModelError("\(source): unknown field\(unknown.count > 1 ? "s" : "") \(unknown.map { "'\($0)'" }.joined(separator: ", ")) (a \(Self.architecture) config has: \(knownKeys.sorted().joined(separator: ", ")))")
        }
        var config = try TextEncoderConfig(vocabSize: reader.requiredInt("vocab_size", range: 1 ... 1 << 24),
                                           width: reader.requiredInt("width", range: 1 ... 1 << 16),
                                           layers: reader.requiredInt("layers", range: 1 ... 1024),
                                           heads: reader.requiredInt("heads", range: 1 ... 1 << 16),
                                           maxLength: reader.requiredInt("max_length", range: 2 ... 1 << 16),
                                           mlpRatio: reader.requiredInt("mlp_ratio", range: 1 ... 64))
        guard config.width % config.heads == 0 else {
            throw reader.fail("heads", "= \(config.heads) does not divide width \(config.width) into heads")
        }
        guard !reader.isAbsent("layer_norm_eps") else { throw reader.fail("layer_norm_eps", "is missing") }
        guard let epsilon = reader.json["layer_norm_eps"]?.number, epsilon > 0, epsilon <= 1 else {
            throw reader.fail("layer_norm_eps", "must be a number in (0, 1], got \(reader.describe("layer_norm_eps"))")
        }
        config.layerNormEpsilon = Float(epsilon)
        return config
    }
}
