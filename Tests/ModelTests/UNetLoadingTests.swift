import Foundation
import Model
import Tensor
import Testing

/// Reading `config.json` and matching it against the checkpoint.
@Suite("UNet3D config and weight loading")
struct UNetLoadingTests {
    static let tinyConfig = Fixtures.path("unet-tiny", "unet", "config.json")

    /// The tiny fixture's config with `changes` applied (nil removes a key).
    static func configData(_ changes: [String: Any?]) throws -> Data {
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tinyConfig)))
            as! [String: Any]
        for (key, value) in changes {
            json[key] = value ?? nil
            if value == nil { json.removeValue(forKey: key) }
        }
        return try JSONSerialization.data(withJSONObject: json)
    }

    @Test("the fixture configs read as diffusers builds them")
    func readsFixtures() throws {
        let tiny = try UNet3DConfig.load(path: Self.tinyConfig)
        #expect(tiny.blockOutChannels == [16, 32])
        #expect(tiny.downBlockTypes == [.crossAttention, .plain])
        #expect(tiny.upBlockTypes == [.plain, .crossAttention])
        #expect(tiny.attentionHeadDim == [4, 4])
        #expect(tiny.layersPerBlock == 1)
        #expect(tiny.normNumGroups == 8)
        #expect(tiny.crossAttentionDim == 16)
        #expect(tiny.timeEmbedDim == 64)
        #expect(!tiny.fpsConditioning)
        let fps = try UNet3DConfig.load(path: Fixtures.path("unet-fps", "unet", "config.json"))
        #expect(fps.fpsConditioning)
        #expect(fps.blockOutChannels == [16, 24, 32])
    }

    @Test("unsupported or inconsistent values are rejected by name", arguments: [
        (["down_block_types": ["CrossAttnDownBlock3D", "DownBlockMotion"]],
         "field 'down_block_types' contains unsupported block \"DownBlockMotion\" (supported: CrossAttnDownBlock3D, DownBlock3D)"),
        (["up_block_types": ["UpBlock3D"]], "field 'up_block_types' has 1 blocks, down_block_types has 2"),
        (["block_out_channels": [16, 32, 64]], "field 'block_out_channels' has 3 entries, down_block_types has 2"),
        (["norm_num_groups": 5], "field 'norm_num_groups' = 5 does not divide block_out_channels entry 16"),
        (["norm_num_groups": NSNull()], "field 'norm_num_groups' = null is not supported (the 3-D blocks need group norms)"),
        (["attention_head_dim": 3], "field 'attention_head_dim' = 3 does not divide block 0's 16 channels into heads"),
        (["attention_head_dim": [4, 4]],
         "field 'attention_head_dim' must be a single integer: UNet3DConditionModel's transformer_in cannot use a per-block list"),
        (["num_attention_heads": 8],
         "field 'num_attention_heads' must be null: diffusers' UNet3DConditionModel takes the head count from attention_head_dim"),
        (["act_fn": "gelu"],
         "field 'act_fn' = \"gelu\" is not supported (the resnets and time embedding use SiLU); supported: silu, swish"),
        (["time_cond_proj_dim": 8], "field 'time_cond_proj_dim' is not supported (timestep conditioning projection)"),
        (["layers_per_block": 1.5], "field 'layers_per_block' must be an integer, got 1.5"),
        (["layers_per_block": true], "field 'layers_per_block' must be an integer, got true"),
        (["in_channels": 0], "field 'in_channels' must be in 1...65536, got 0"),
        (["downsample_padding": 0], "field 'downsample_padding' must be in 1...1, got 0"),
        (["fps_cond": "yes"], "field 'fps_cond' must be true or false, got \"yes\""),
        (["_class_name": "UNet2DConditionModel"], "field '_class_name' = UNet2DConditionModel is not a UNet3DConditionModel"),
    ] as [([String: any Sendable], String)])
    func rejects(changes: [String: any Sendable], message: String) throws {
        let data = try Self.configData(changes.mapValues { $0 as Any? })
        #expect(throws: ModelError("cfg: \(message)")) { try UNet3DConfig.parse(data, source: "cfg") }
    }

    @Test("a config that is not JSON names the file")
    func notJSON() {
        #expect(throws: ModelError.self) { try UNet3DConfig.parse(Data("{".utf8), source: "cfg") }
        #expect(throws: ModelError("cfg: expected a JSON object at the top level")) {
            try UNet3DConfig.parse(Data("[1]".utf8), source: "cfg")
        }
    }

    /// A weight source serving the tiny fixture's tensors with edits.
    struct EditedWeights: WeightSource {
        let base: SafeTensorsFile
        var shapes: [String: [Int]] = [:]
        var removed: Set<String> = []
        var extra: [String: [Int]] = [:]

        var tensorNames: [String] { base.tensorNames.filter { !removed.contains($0) } + extra.keys }
        func shape(of name: String) -> [Int]? {
            if removed.contains(name) { return nil }
            return shapes[name] ?? extra[name] ?? base.shape(of: name)
        }
        func floats(_ name: String) throws -> [Float] {
            let count = shape(of: name)!.reduce(1, *)
            return extra[name] != nil || shapes[name] != nil ? Array(repeating: 0, count: count) : try base.floats(name)
        }
    }

    @Test("weights that do not fit the config are rejected by tensor name")
    func mismatchedWeights() throws {
        let config = try UNet3DConfig.load(path: Self.tinyConfig)
        let base = try SafeTensorsFile(path: Fixtures.path("unet-tiny", "unet", "diffusion_pytorch_model.safetensors"))
        func load(_ weights: EditedWeights) throws {
            _ = try UNet3DConditionModel(config: config, loader: WeightLoader(source: weights, backend: Fixtures.backend))
        }
        try load(EditedWeights(base: base))

        #expect(throws: ModelError("checkpoint has no tensor 'conv_in.weight' (expected shape [16, 4, 3, 3])")) {
            try load(EditedWeights(base: base, removed: ["conv_in.weight"]))
        }
        #expect(throws: ModelError("checkpoint tensor 'mid_block.resnets.1.conv2.bias' has shape [31], the model config needs [32]")) {
            try load(EditedWeights(base: base, shapes: ["mid_block.resnets.1.conv2.bias": [31]]))
        }
        #expect(throws: ModelError("checkpoint has 1 tensors the config's architecture does not use (fps_embedding.linear_1.weight): config and weights do not match")) {
            try load(EditedWeights(base: base, extra: ["fps_embedding.linear_1.weight": [64, 16]]))
        }
    }

    @Test("model folders resolve pipeline and bare UNet layouts")
    func folders() throws {
        let pipeline = try ModelFolder(path: Fixtures.path("unet-tiny"))
        #expect(pipeline.unetPath.hasSuffix("unet-tiny/unet"))
        #expect(pipeline.schedulerConfigPath?.hasSuffix("unet-tiny/scheduler/scheduler_config.json") == true)
        let bare = try ModelFolder(path: Fixtures.path("unet-tiny", "unet"))
        #expect(bare.unetPath == pipeline.unetPath)
        #expect(bare.schedulerConfigPath == nil)
        #expect(throws: ModelError("model folder '/no/such/model' does not exist")) { try ModelFolder(path: "/no/such/model") }
        let scheduler = Fixtures.path("unet-tiny", "scheduler")
        #expect(throws: ModelError("'\(scheduler)' holds neither unet/config.json (a diffusers pipeline) nor config.json (a UNet folder)")) {
            try ModelFolder(path: scheduler)
        }
    }
}
