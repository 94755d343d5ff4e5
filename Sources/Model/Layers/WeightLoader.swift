import Tensor

/// Named float arrays with shapes: a checkpoint file, or several merged.
public protocol WeightSource: Sendable {
    /// Every tensor name the source holds.
    var tensorNames: [String] { get }
    /// The shape of tensor `name`, or nil when the source has no such tensor.
    func shape(of name: String) -> [Int]?
    /// The elements of tensor `name` converted to `Float`.
    func floats(_ name: String) throws -> [Float]
}

/// Uploads a model's weights to a backend, checking each name and shape against the
/// architecture, and records which checkpoint tensors were used.
///
/// A loader is scoped by a dotted prefix (`down_blocks.0.resnets.1`), mirroring diffusers'
/// module names, so each layer asks for its own parameters by their short names.
public final class WeightLoader: @unchecked Sendable {
    // @unchecked: `used` is only touched during the single-threaded model construction.
    private let source: any WeightSource
    /// The backend the weights are uploaded to.
    public let backend: any Backend
    private let prefix: String
    private let root: WeightLoader?
    private var used: Set<String> = []

    /// A loader reading from `source` and uploading to `backend`.
    public init(source: any WeightSource, backend: any Backend) {
        self.source = source
        self.backend = backend
        self.prefix = ""
        self.root = nil
    }

    private init(parent: WeightLoader, prefix: String) {
        source = parent.source
        backend = parent.backend
        self.prefix = prefix
        root = parent.root ?? parent
    }

    /// A loader for the child module `name`.
    public func scope(_ name: String) -> WeightLoader {
        WeightLoader(parent: self, prefix: qualified(name))
    }

    /// A loader for the child module `name.index`.
    public func scope(_ name: String, _ index: Int) -> WeightLoader {
        scope("\(name).\(index)")
    }

    private func qualified(_ name: String) -> String {
        prefix.isEmpty ? name : "\(prefix).\(name)"
    }

    /// Whether the checkpoint has tensor `name` in this scope.
    public func contains(_ name: String) -> Bool {
        source.shape(of: qualified(name)) != nil
    }

    /// Uploads tensor `name`, which must have exactly `shape` (or the same elements in a
    /// shape that differs only by size-1 axes, as Conv3d (3,1,1) kernels stored as [O, C, 3]).
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        try backend.upload(values(name, shape: shape), shape: shape)
    }

    /// Uploads tensor `name` as ``tensor(_:shape:)`` does, for a weight that only ever reaches
    /// `linear`, `conv2d` or `temporalConv` as their `weight`: the backend may store it in reduced
    /// precision (``Backend/uploadOperatorWeight(_:shape:)``).
    public func operatorWeight(_ name: String, shape: [Int]) throws -> Tensor {
        try backend.uploadOperatorWeight(values(name, shape: shape), shape: shape)
    }

    private func values(_ name: String, shape: [Int]) throws -> [Float] {
        let full = qualified(name)
        guard let stored = source.shape(of: full) else {
            throw ModelError("checkpoint has no tensor '\(full)' (expected shape \(shape))")
        }
        guard stored.filter({ $0 != 1 }) == shape.filter({ $0 != 1 }),
              stored.reduce(1, *) == shape.reduce(1, *) else {
            throw ModelError("checkpoint tensor '\(full)' has shape \(stored), the model config needs \(shape)")
        }
        (root ?? self).used.insert(full)
        return try source.floats(full)
    }

    /// Names of checkpoint tensors loaded so far through this loader or its scopes.
    public var usedNames: Set<String> { (root ?? self).used }

    /// Throws when the source holds tensors no layer loaded: the checkpoint belongs to a
    /// different architecture than the config describes.
    public func checkAllUsed() throws {
        let unused = source.tensorNames.filter { !usedNames.contains($0) }.sorted()
        guard unused.isEmpty else {
            let shown = unused.prefix(5).joined(separator: ", ")
            throw ModelError("checkpoint has \(unused.count) tensors the config's architecture does not use (\(shown)\(unused.count > 5 ? ", ..." : "")): config and weights do not match")
        }
    }
}
