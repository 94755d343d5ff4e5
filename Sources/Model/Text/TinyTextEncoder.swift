import Tensor

/// The bundled model's tiny text encoder: a pre-norm transformer over word tokens whose
/// `maxLength` output states are the UNet's `encoder_hidden_states` (`cross_attention_dim` =
/// ``TextEncoderConfig/width``).
///
/// `x = token_embedding[ids] + position_embedding`; per layer `x += Attn(LN1(x))`,
/// `x += MLP(LN2(x))` (multi-head self-attention over all positions, no mask; MLP
/// `fc1 -> GELU (erf) -> fc2`); then `final_ln`. It runs on any ``Backend``.
///
/// ```swift
/// let encoder = try TinyTextEncoder.load(folder: "models/tiny-shapes", backend: backend)
/// let (values, shape) = try encoder.encode(["a red circle moving right", ""])  // shape [2, 8, 32]
/// ```
public struct TinyTextEncoder: Sendable {
    /// The architecture.
    public let config: TextEncoderConfig
    /// The tokenizer that turns prompts into this encoder's token ids.
    public let tokenizer: TextTokenizer
    /// The backend holding the weights and running the forward pass.
    public let backend: any Backend
    /// `token_embedding.weight` on the host, `[vocabSize, width]`: the lookup is a host gather.
    let tokenEmbedding: [Float]
    /// `position_embedding`, `[maxLength, width]`.
    let positionEmbedding: Tensor
    let layers: [TextEncoderLayer]
    let finalNorm: LayerNorm

    /// Builds the encoder from `loader`'s weights (PyTorch names, see the type's overview) and
    /// checks that `tokenizer` fits `config`. Does not check for unused checkpoint tensors
    /// (``load(textEncoderPath:tokenizerPath:backend:)`` does).
    public init(config: TextEncoderConfig, tokenizer: TextTokenizer, loader: WeightLoader) throws {
        guard tokenizer.tokens.count == config.vocabSize else {
            throw ModelError("the tokenizer has \(tokenizer.tokens.count) tokens, the text encoder's vocab_size is \(config.vocabSize)")
        }
        guard tokenizer.maxLength == config.maxLength else {
            throw ModelError("the tokenizer's max_length is \(tokenizer.maxLength), the text encoder's is \(config.maxLength)")
        }
        self.config = config
        self.tokenizer = tokenizer
        backend = loader.backend
        let table = try loader.tensor("token_embedding.weight", shape: [config.vocabSize, config.width])
        tokenEmbedding = try backend.download(table)
        positionEmbedding = try loader.tensor("position_embedding", shape: [config.maxLength, config.width])
        layers = try (0 ..< config.layers).map { try TextEncoderLayer(loader.scope("layers", $0), config: config) }
        finalNorm = try LayerNorm(loader.scope("final_ln"), dim: config.width, epsilon: config.layerNormEpsilon)
    }

    /// The token states of `prompts` on the host: `values` row-major with `shape`
    /// `[prompts.count, maxLength, width]`. Throws a ``ModelError`` for an empty list or a
    /// prompt the tokenizer rejects (unknown word, too many words).
    public func encode(_ prompts: [String]) throws -> (values: [Float], shape: [Int]) {
        let states = try hiddenStates(for: prompts)
        return (try backend.download(states), states.shape)
    }

    /// The classifier-free-guidance conditioning of `prompt`: its token states and those of
    /// `negativePrompt` (by default `""`, the unconditional prompt), each `[1, maxLength, width]`
    /// on ``backend``.
    public func conditioning(prompt: String, negativePrompt: String = "", fps: Float? = nil) throws -> Conditioning {
        try Conditioning(prompt: hiddenStates(for: [prompt]), negativePrompt: hiddenStates(for: [negativePrompt]), fps: fps)
    }

    /// The token states of `prompts` on ``backend``, `[prompts.count, maxLength, width]`: the
    /// UNet's `encoder_hidden_states`.
    public func hiddenStates(for prompts: [String]) throws -> Tensor {
        try hiddenStates(tokenIDs: prompts.map(tokenizer.tokenize))
    }

    /// The token states of sequences of token ids (each `maxLength` ids below `vocabSize`),
    /// `[ids.count, maxLength, width]`.
    public func hiddenStates(tokenIDs ids: [[Int]]) throws -> Tensor {
        guard !ids.isEmpty else { throw ModelError("the text encoder needs at least one prompt") }
        let width = config.width
        var embedded = [Float]()
        embedded.reserveCapacity(ids.count * config.maxLength * width)
        for (row, sequence) in ids.enumerated() {
            guard sequence.count == config.maxLength else {
                throw ModelError("token sequence \(row) has \(sequence.count) ids, the text encoder takes \(config.maxLength)")
            }
            for id in sequence {
                guard (0 ..< config.vocabSize).contains(id) else {
                    throw ModelError("token sequence \(row) holds id \(id), outside the vocabulary 0..<\(config.vocabSize)")
                }
                embedded.append(contentsOf: tokenEmbedding[id * width ..< (id + 1) * width])
            }
        }
        var x = try backend.add(backend.upload(embedded, shape: [ids.count, config.maxLength, width]),
                                positionEmbedding)
        for layer in layers {
            x = try layer(x, backend)
        }
        return try finalNorm(x, backend)
    }
}

/// One pre-norm transformer layer: `x + Attn(LN1(x))`, then `x + MLP(LN2(x))`.
struct TextEncoderLayer: Sendable {
    let norm1: LayerNorm
    let query: Linear
    let key: Linear
    let value: Linear
    let out: Linear
    let heads: Int
    let scale: Float
    let norm2: LayerNorm
    let fc1: Linear
    let fc2: Linear

    init(_ loader: WeightLoader, config: TextEncoderConfig) throws {
        let width = config.width
        norm1 = try LayerNorm(loader.scope("ln1"), dim: width, epsilon: config.layerNormEpsilon)
        let attention = loader.scope("attn")
        query = try Linear(attention.scope("q"), input: width, output: width)
        key = try Linear(attention.scope("k"), input: width, output: width)
        value = try Linear(attention.scope("v"), input: width, output: width)
        out = try Linear(attention.scope("out"), input: width, output: width)
        heads = config.heads
        scale = 1 / Float(config.headDim).squareRoot()
        norm2 = try LayerNorm(loader.scope("ln2"), dim: width, epsilon: config.layerNormEpsilon)
        let mlp = loader.scope("mlp")
        fc1 = try Linear(mlp.scope("fc1"), input: width, output: width * config.mlpRatio)
        fc2 = try Linear(mlp.scope("fc2"), input: width * config.mlpRatio, output: width)
    }

    /// `x [P, T, width]` -> `[P, T, width]`.
    func callAsFunction(_ x: Tensor, _ backend: any Backend) throws -> Tensor {
        let normed = try norm1(x, backend)
        let attended = try backend.attention(query: query(normed, backend), key: key(normed, backend),
                                             value: value(normed, backend), heads: heads, scale: scale, bias: nil)
        let h = try backend.add(x, out(attended, backend))
        let hidden = try backend.activation(fc1(norm2(h, backend), backend), .gelu)
        return try backend.add(h, fc2(hidden, backend))
    }
}
