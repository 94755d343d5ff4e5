import Foundation
import Model
import Tensor
import TestSupport
import Testing

/// The word tokenizer and the tiny text encoder against the PyTorch reference
/// (`scripts/fixtures/make_text_encoder_fixture.py`, see Fixtures/text-encoder/README.md).
@Suite("Tiny text encoder and tokenizer")
struct TextEncoderTests {
    /// The model root of the spec-shaped fixture (width 32, 2 layers, 4 heads, 8 tokens).
    static let defaultRoot = Fixtures.path("text-encoder", "default")
    /// The model root whose config changes every field.
    static let variantRoot = Fixtures.path("text-encoder", "variant")
    /// The bundled model (committed by the training script), when it is in the checkout.
    static let shippedRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/tiny-shapes").path
    /// The prompts of the training script's parity file when its metadata does not list them.
    static let trainingParityPrompts = ["a red circle moving right", "a blue square moving down", ""]

    static func tokenizer(_ root: String = defaultRoot) throws -> TextTokenizer {
        try TextTokenizer.load(path: root + "/tokenizer/vocab.json")
    }

    // MARK: Tokenizer

    @Test("prompts become bos + word ids + eos, padded to max_length")
    func exactIDs() throws {
        let tokenizer = try Self.tokenizer()
        #expect(tokenizer.words == ["a", "red", "green", "blue", "circle", "square", "triangle",
                                    "moving", "left", "right", "up", "down"])
        #expect((tokenizer.bosID, tokenizer.eosID, tokenizer.padID, tokenizer.maxLength) == (1, 2, 0, 8))
        #expect(try tokenizer.tokenize("a red circle moving right") == [1, 3, 4, 7, 10, 12, 2, 0])
        #expect(try tokenizer.tokenize("a blue square moving down") == [1, 3, 6, 8, 10, 14, 2, 0])
        #expect(try tokenizer.tokenize("green triangle") == [1, 5, 9, 2, 0, 0, 0, 0])
        // Six words fill max_length exactly: no padding.
        #expect(try tokenizer.tokenize("a red circle moving right up") == [1, 3, 4, 7, 10, 12, 13, 2])
    }

    @Test("the empty prompt is the unconditional sequence")
    func emptyPrompt() throws {
        let tokenizer = try Self.tokenizer()
        #expect(try tokenizer.tokenize("") == [1, 2, 0, 0, 0, 0, 0, 0])
        #expect(try tokenizer.tokenize(" \t\n ") == [1, 2, 0, 0, 0, 0, 0, 0])
        #expect(try tokenizer.tokenize(", . ;") == [1, 2, 0, 0, 0, 0, 0, 0])
    }

    @Test("case, whitespace and , . ; at word ends do not change the ids")
    func normalisation() throws {
        let tokenizer = try Self.tokenizer()
        let expected: [Int] = [1, 3, 4, 7, 10, 12, 2, 0]
        for prompt in ["A RED Circle Moving RIGHT", "a red circle, moving right.", "  a\tred\ncircle   moving right ",
                       ";a. red,, circle;. moving right...", "a red , circle moving right"] {
            #expect(try tokenizer.tokenize(prompt) == expected, "prompt \(prompt.debugDescription)")
        }
        #expect(TextTokenizer.words(of: "Red, circle.; MOVING") == ["red", "circle", "moving"])
    }

    @Test("an unknown word is named, with the vocabulary's words")
    func unknownWord() throws {
        let tokenizer = try Self.tokenizer()
        let known = "a, red, green, blue, circle, square, triangle, moving, left, right, up, down"
        #expect(throws: ModelError("unknown word \"purple\" in prompt \"A Purple circle\": the text encoder knows only these words: \(known)")) {
            try tokenizer.tokenize("A Purple circle")
        }
        // Punctuation inside a word stays, and special tokens cannot be typed.
        #expect(throws: ModelError("unknown word \"red,circle\" in prompt \"red,circle\": the text encoder knows only these words: \(known)")) {
            try tokenizer.tokenize("red,circle")
        }
        #expect(throws: ModelError("unknown word \"<pad>\" in prompt \"a <pad>\": the text encoder knows only these words: \(known)")) {
            try tokenizer.tokenize("a <pad>")
        }
    }

    @Test("a prompt longer than max_length is rejected with the limit")
    func tooLong() throws {
        let tokenizer = try Self.tokenizer()
        #expect(throws: ModelError("prompt \"a red circle moving right up down\" has 7 words; the text encoder's max_length of 8 tokens (with bos and eos) allows at most 6")) {
            try tokenizer.tokenize("a red circle moving right up down")
        }
    }

    @Test("special tokens are found by name wherever they are in the vocabulary")
    func specialTokensByName() throws {
        let tokenizer = try Self.tokenizer(Self.variantRoot)
        #expect((tokenizer.bosID, tokenizer.eosID, tokenizer.padID, tokenizer.maxLength) == (0, 2, 4, 6))
        #expect(tokenizer.words == ["circle", "red", "blue", "square", "moving", "a"])
        #expect(try tokenizer.tokenize("red circle") == [0, 3, 1, 2, 4, 4])
        #expect(try tokenizer.tokenize("") == [0, 2, 4, 4, 4, 4])
    }

    @Test("bad vocabularies are rejected by field", arguments: [
        (#"{"tokens": ["<pad>", "<bos>", "<eos>", "a", "a"], "max_length": 8, "bos": "<bos>", "eos": "<eos>", "pad": "<pad>"}"#,
         "vocab.json: field 'tokens' lists \"a\" twice (ids 3 and 4)"),
        (#"{"tokens": ["<pad>", "<eos>", "a"], "max_length": 8, "bos": "<bos>", "eos": "<eos>", "pad": "<pad>"}"#,
         "vocab.json: field 'bos' = \"<bos>\" is not one of the tokens"),
        (#"{"tokens": ["<pad>", "<bos>", "a"], "max_length": 8, "bos": "<bos>", "eos": "<pad>", "pad": "<pad>"}"#,
         "vocab.json: fields 'bos', 'eos' and 'pad' must name three different tokens, got \"<bos>\", \"<pad>\", \"<pad>\""),
        (#"{"tokens": ["<pad>", "<bos>", "<eos>"], "max_length": 1, "bos": "<bos>", "eos": "<eos>", "pad": "<pad>"}"#,
         "vocab.json: field 'max_length' must be in 2...65536, got 1"),
        (#"{"max_length": 8, "bos": "<bos>", "eos": "<eos>", "pad": "<pad>"}"#, "vocab.json: field 'tokens' is missing"),
        (#"{"tokens": ["<pad>", "<bos>", "<eos>"], "max_length": 8, "bos": "<bos>", "eos": "<eos>"}"#,
         "vocab.json: field 'pad' is missing"),
        (#"{"tokens": "abc", "max_length": 8, "bos": "<bos>", "eos": "<eos>", "pad": "<pad>"}"#,
         "vocab.json: field 'tokens' must be a list of strings, got \"abc\""),
    ])
    func badVocabularies(json: String, message: String) {
        #expect(throws: ModelError(message)) { try TextTokenizer.parse(Data(json.utf8), source: "vocab.json") }
    }

    // MARK: Config

    @Test("the fixture configs read with every field")
    func readsConfigs() throws {
        let config = try TextEncoderConfig.load(path: Self.defaultRoot + "/text_encoder/config.json")
        #expect(config == TextEncoderConfig(vocabSize: 15, width: 32, layers: 2, heads: 4, maxLength: 8,
                                            mlpRatio: 4, layerNormEpsilon: 1e-5))
        #expect(config.headDim == 8)
        let variant = try TextEncoderConfig.load(path: Self.variantRoot + "/text_encoder/config.json")
        #expect(variant == TextEncoderConfig(vocabSize: 9, width: 24, layers: 3, heads: 3, maxLength: 6,
                                             mlpRatio: 2, layerNormEpsilon: 1e-3))
        // `_`-prefixed keys are metadata (as diffusers' `_class_name`), not architecture.
        let annotated = try JSONSerialization.data(withJSONObject: Self.goodConfig.merging(["_name_or_path": "tiny"]) { $1 })
        #expect(try TextEncoderConfig.parse(annotated, source: "config.json") == config)
    }

    static let goodConfig: [String: any Sendable] = ["architecture": "TinyTextEncoder", "vocab_size": 15, "width": 32,
                                                     "layers": 2, "heads": 4, "max_length": 8, "mlp_ratio": 4,
                                                     "layer_norm_eps": 1e-5]

    @Test("bad configs are rejected by field", arguments: [
        (["architecture": "CLIPTextModel"], "field 'architecture' = \"CLIPTextModel\" is not supported; supported: TinyTextEncoder"),
        (["heads": 5], "field 'heads' = 5 does not divide width 32 into heads"),
        (["width": 1.5], "field 'width' must be an integer, got 1.5"),
        (["layers": 0], "field 'layers' must be in 1...1024, got 0"),
        (["max_length": NSNull()], "field 'max_length' is missing"),
        (["layer_norm_eps": 0], "field 'layer_norm_eps' must be a number in (0, 1], got 0"),
        (["layer_norm_eps": "1e-5"], "field 'layer_norm_eps' must be a number in (0, 1], got \"1e-5\""),
        (["causal": true], "unknown field 'causal' (a TinyTextEncoder config has: architecture, heads, layer_norm_eps, layers, max_length, mlp_ratio, vocab_size, width)"),
    ] as [([String: any Sendable], String)])
    func badConfigs(changes: [String: any Sendable], message: String) throws {
        var json = Self.goodConfig
        for (key, value) in changes { json[key] = value is NSNull ? nil : value }
        let data = try JSONSerialization.data(withJSONObject: json)
        #expect(throws: ModelError("config.json: " + message)) { try TextEncoderConfig.parse(data, source: "config.json") }
    }

    // MARK: Parity with PyTorch

    /// Checks the encoder of model root `root` against its `text_encoder/parity.safetensors`:
    /// the tokenizer must give the reference `ids` and the forward pass its `hidden` within 1e-5.
    static func checkParity(root: String, defaultPrompts: [String]? = nil) throws {
        let encoder = try TinyTextEncoder.load(folder: root, backend: Fixtures.backend)
        let parity = try SafeTensorsFile(path: root + "/text_encoder/parity.safetensors")
        let prompts: [String]
        if let listed = parity.metadata["prompts"] {
            prompts = try JSONDecoder().decode([String].self, from: Data(listed.utf8))
        } else {
            prompts = try #require(defaultPrompts, "\(parity.path) lists no prompts in its metadata")
        }
        let config = encoder.config
        let ids = try prompts.map(encoder.tokenizer.tokenize)
        #expect(parity.shape(of: "ids") == [prompts.count, config.maxLength])
        #expect(ids.flatMap { $0 }.map(Float.init) == (try parity.floats("ids")), "token ids differ from the reference")
        let (values, shape) = try encoder.encode(prompts)
        #expect(shape == [prompts.count, config.maxLength, config.width])
        #expect(parity.shape(of: "hidden") == shape)
        let reference = try parity.floats("hidden")
        let error = maxAbsDifference(values, reference)
        #expect(error <= 1e-5, "max abs error \(error) against \(parity.path) (max |x| \(maxAbs(reference)))")
        // One prompt alone encodes as its row of the batch: rows do not see each other.
        let row = prompts.count - 1
        let alone = try encoder.encode([prompts[row]]).values
        let rowSize = config.maxLength * config.width
        #expect(maxAbsDifference(alone, Array(values[row * rowSize ..< (row + 1) * rowSize])) <= 1e-6)
    }

    @Test("the spec-shaped random encoder matches PyTorch within 1e-5")
    func defaultParity() throws {
        try Self.checkParity(root: Self.defaultRoot)
    }

    @Test("a config that changes every field matches PyTorch within 1e-5")
    func variantParity() throws {
        try Self.checkParity(root: Self.variantRoot)
    }

    @Test("the bundled model models/tiny-shapes matches its PyTorch parity file",
          .enabled(if: FileManager.default.fileExists(atPath: shippedRoot + "/text_encoder/parity.safetensors"),
                   "models/tiny-shapes/text_encoder/parity.safetensors is not in this checkout"))
    func shippedModelParity() throws {
        try Self.checkParity(root: Self.shippedRoot, defaultPrompts: Self.trainingParityPrompts)
        let folder = try ModelFolder(path: Self.shippedRoot)
        let encoder = try TinyTextEncoder.load(modelFolder: folder, backend: Fixtures.backend)
        let unet = try UNet3DConfig.load(path: folder.unetConfigPath)
        #expect(encoder.config.width == unet.crossAttentionDim, "the UNet's cross_attention_dim must be the encoder width")
    }

    @Test("tensor, host and conditioning outputs agree; bad token ids are rejected")
    func tensorVariant() throws {
        let encoder = try TinyTextEncoder.load(folder: Self.defaultRoot, backend: Fixtures.backend)
        let prompts = ["green triangle moving up", ""]
        let states = try encoder.hiddenStates(for: prompts)
        #expect(states.shape == [2, 8, 32])
        #expect(try Fixtures.backend.download(states) == encoder.encode(prompts).values)
        #expect(throws: ModelError("token sequence 1 holds id 15, outside the vocabulary 0..<15")) {
            try encoder.hiddenStates(tokenIDs: [[1, 2, 0, 0, 0, 0, 0, 0], [1, 15, 2, 0, 0, 0, 0, 0]])
        }
        #expect(throws: ModelError("token sequence 0 has 3 ids, the text encoder takes 8")) {
            try encoder.hiddenStates(tokenIDs: [[1, 2, 0]])
        }
        #expect(throws: ModelError("the text encoder needs at least one prompt")) { try encoder.encode([]) }

        let conditioning = try encoder.conditioning(prompt: "green triangle moving up", fps: 8)
        #expect(conditioning.prompt.shape == [1, 8, 32] && conditioning.negativePrompt.shape == [1, 8, 32])
        #expect(conditioning.fps == 8)
        let rows = try encoder.encode(prompts).values
        #expect(maxAbsDifference(try Fixtures.backend.download(conditioning.prompt), Array(rows[..<256])) <= 1e-6)
        #expect(maxAbsDifference(try Fixtures.backend.download(conditioning.negativePrompt), Array(rows[256...])) <= 1e-6)
    }

    // MARK: Loading

    /// A copy of the default fixture root in a fresh temporary folder; `edit` changes it.
    static func editedRoot(_ edit: (URL) throws -> Void) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("te-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: defaultRoot), to: root)
        try edit(root)
        return root
    }

    @Test("mismatched configs, vocabularies and weights are rejected by name")
    func loadingErrors() throws {
        let backend = Fixtures.backend
        let wider = try Self.editedRoot { root in
            let path = root.appendingPathComponent("text_encoder/config.json")
            var json = try JSONSerialization.jsonObject(with: Data(contentsOf: path)) as! [String: Any]
            json["width"] = 40
            try JSONSerialization.data(withJSONObject: json).write(to: path)
        }
        defer { try? FileManager.default.removeItem(at: wider) }
        let weights = wider.path + "/text_encoder/model.safetensors"
        #expect(throws: ModelError("\(weights) (config \(wider.path)/text_encoder/config.json, vocabulary \(wider.path)/tokenizer/vocab.json): checkpoint tensor 'token_embedding.weight' has shape [15, 32], the model config needs [15, 40]")) {
            try TinyTextEncoder.load(folder: wider.path, backend: backend)
        }

        let fewerLayers = try Self.editedRoot { root in
            let path = root.appendingPathComponent("text_encoder/config.json")
            var json = try JSONSerialization.jsonObject(with: Data(contentsOf: path)) as! [String: Any]
            json["layers"] = 1
            try JSONSerialization.data(withJSONObject: json).write(to: path)
        }
        defer { try? FileManager.default.removeItem(at: fewerLayers) }
        let error = #expect(throws: ModelError.self) { try TinyTextEncoder.load(folder: fewerLayers.path, backend: backend) }
        #expect(error?.message.hasSuffix("checkpoint has 16 tensors the config's architecture does not use (layers.1.attn.k.bias, layers.1.attn.k.weight, layers.1.attn.out.bias, layers.1.attn.out.weight, layers.1.attn.q.bias, ...): config and weights do not match") == true,
                "\(String(describing: error))")

        let shortVocabulary = try Self.editedRoot { root in
            let path = root.appendingPathComponent("tokenizer/vocab.json")
            var json = try JSONSerialization.jsonObject(with: Data(contentsOf: path)) as! [String: Any]
            json["tokens"] = (json["tokens"] as! [String]).dropLast() as [String]
            try JSONSerialization.data(withJSONObject: json).write(to: path)
        }
        defer { try? FileManager.default.removeItem(at: shortVocabulary) }
        let vocabularyError = #expect(throws: ModelError.self) { try TinyTextEncoder.load(folder: shortVocabulary.path, backend: backend) }
        #expect(vocabularyError?.message.hasSuffix("the tokenizer has 14 tokens, the text encoder's vocab_size is 15") == true)

        let noTokenizer = try Self.editedRoot { root in
            try FileManager.default.removeItem(at: root.appendingPathComponent("tokenizer"))
        }
        defer { try? FileManager.default.removeItem(at: noTokenizer) }
        #expect(throws: ModelError("text encoder file '\(noTokenizer.path)/tokenizer/vocab.json' does not exist")) {
            try TinyTextEncoder.load(folder: noTokenizer.path, backend: backend)
        }
        #expect(throws: ModelError("model folder '/no/such/model' does not exist or is not a folder")) {
            try TinyTextEncoder.load(folder: "/no/such/model", backend: backend)
        }
    }

    @Test("model folders find text_encoder/ and tokenizer/ beside unet/")
    func modelFolderPaths() throws {
        let pipeline = try Self.editedRoot { root in
            try FileManager.default.copyItem(at: URL(fileURLWithPath: Fixtures.path("unet-tiny", "unet")),
                                             to: root.appendingPathComponent("unet"))
        }
        defer { try? FileManager.default.removeItem(at: pipeline) }
        let folder = try ModelFolder(path: pipeline.path)
        #expect(folder.textEncoderPath == pipeline.path + "/text_encoder")
        #expect(folder.tokenizerPath == pipeline.path + "/tokenizer")
        let encoder = try TinyTextEncoder.load(modelFolder: folder, backend: Fixtures.backend)
        #expect(try encoder.encode([""]).values == TinyTextEncoder.load(folder: Self.defaultRoot, backend: Fixtures.backend).encode([""]).values)

        let unetOnly = try ModelFolder(path: Fixtures.path("unet-tiny"))
        #expect(unetOnly.textEncoderPath == nil && unetOnly.tokenizerPath == nil)
        #expect(throws: ModelError("model folder '\(Fixtures.path("unet-tiny"))' has no text_encoder/ and tokenizer/ folders: it cannot encode prompts")) {
            try TinyTextEncoder.load(modelFolder: unetOnly, backend: Fixtures.backend)
        }
        let bare = try ModelFolder(path: Fixtures.path("unet-tiny", "unet"))
        #expect(bare.textEncoderPath == nil && bare.tokenizerPath == nil)
    }
}
