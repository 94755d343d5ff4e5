import CPUBackend
import Foundation
import Model
import Tensor
import TestSupport

/// Access to the diffusers reference fixtures (see Fixtures/README.md for how they were made).
enum Fixtures {
    /// The fixture folder, `Tests/ModelTests/Fixtures`.
    static var root: String { DiffusersFixtures.root }

    /// `Fixtures/<components>`.
    static func path(_ components: String...) -> String {
        ([root] + components).joined(separator: "/")
    }

    /// A small CPU backend (2 threads: CI has two cores).
    static let backend = CPUBackend(threads: 2)

    /// Loads fixture model `name` ("unet-tiny", "unet-fps") once per test.
    static func model(_ name: String) throws -> UNet3DConditionModel {
        try UNet3DConditionModel.load(path: path(name), backend: backend)
    }

    /// Tensor `name` of a fixture safetensors file, uploaded to the test backend.
    static func tensor(_ file: SafeTensorsFile, _ name: String) throws -> Tensor {
        guard let shape = file.shape(of: name) else { throw ModelError("\(file.path) has no '\(name)'") }
        return try backend.upload(file.floats(name), shape: shape)
    }
}
