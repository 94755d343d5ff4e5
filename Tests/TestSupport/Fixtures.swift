import Foundation
import Model
import Parallel

// What several test targets share: the diffusers fixtures in Tests/ModelTests/Fixtures (made by
// the scripts in scripts/fixtures, see the README there), the comparisons the parity tests
// make, and the `infinity` binary SwiftPM builds beside the tests.

/// The diffusers fixtures, read from the source tree.
package enum DiffusersFixtures {
    /// `Tests/ModelTests/Fixtures`, found from this file's location.
    package static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelTests/Fixtures").path

    /// `<root>/<model>/embeddings.safetensors`: the conditional and unconditional prompt
    /// embeddings the fixture pipelines ran with.
    package static func embeddings(_ model: String = "unet-tiny") throws -> PromptEmbeddings {
        let file = try SafeTensorsFile(path: "\(root)/\(model)/embeddings.safetensors")
        func host(_ name: String) throws -> HostTensor {
            guard let shape = file.shape(of: name) else { throw ModelError("\(file.path) has no '\(name)'") }
            return HostTensor(shape: shape, values: try file.floats(name))
        }
        return try PromptEmbeddings(prompts: host("cond"), negative: host("uncond"))
    }

    /// The settings a fixture pipeline run recorded (`<root>/<model>/pipeline-<kind>.json`).
    package struct PipelineSettings: Decodable, Sendable {
        package let seed: UInt64
        package let steps: Int
        package let guidance: Float
        package let frames: Int
        package let height: Int
        package let width: Int
        /// The fps conditioning, for models that have it.
        package let fps: Float?
    }

    /// The settings of `model`'s fixture pipeline run with scheduler `kind` ("ddim", "dpmpp").
    package static func pipelineSettings(_ model: String, _ kind: String) throws -> PipelineSettings {
        try JSONDecoder().decode(PipelineSettings.self,
                                 from: Data(contentsOf: URL(fileURLWithPath: "\(root)/\(model)/pipeline-\(kind).json")))
    }
}

/// Largest absolute difference between two equally long arrays.
package func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "compared arrays differ in length: \(a.count) vs \(b.count)")
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Largest absolute value.
package func maxAbs(_ a: [Float]) -> Float {
    a.reduce(0) { max($0, abs($1)) }
}

/// The `infinity` executable SwiftPM built beside the test bundle.
package let infinityBinary: URL = {
    var directory = Bundle.main.bundleURL
    while directory.path != "/" {
        let candidate = directory.appendingPathComponent("infinity")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        directory.deleteLastPathComponent()
    }
    fatalError("cannot find the infinity binary near \(Bundle.main.bundleURL.path)")
}()
