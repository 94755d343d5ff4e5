import Tensor

/// `torch.nn.Linear`: `y = x W^T + b` over the last axis.
struct Linear: Sendable {
    let weight: Tensor
    let bias: Tensor?

    init(_ loader: WeightLoader, input: Int, output: Int, bias: Bool = true) throws {
        weight = try loader.operatorWeight("weight", shape: [output, input])
        self.bias = bias ? try loader.tensor("bias", shape: [output]) : nil
    }

    var outputFeatures: Int { weight.shape[0] }

    func callAsFunction(_ x: Tensor, _ backend: any Backend) throws -> Tensor {
        try backend.linear(x, weight: weight, bias: bias)
    }
}

/// `torch.nn.Conv2d` with square kernel, equal padding on all sides.
struct Conv2d: Sendable {
    let weight: Tensor
    let bias: Tensor?
    let stride: Int
    let padding: Int

    init(_ loader: WeightLoader, input: Int, output: Int, kernel: Int, stride: Int = 1, padding: Int) throws {
        weight = try loader.operatorWeight("weight", shape: [output, input, kernel, kernel])
        bias = try loader.tensor("bias", shape: [output])
        self.stride = stride
        self.padding = padding
    }

    func callAsFunction(_ x: Tensor, _ backend: any Backend) throws -> Tensor {
        try backend.conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

/// `torch.nn.Conv3d` with kernel `(3, 1, 1)` and padding `(1, 0, 0)`: a convolution along frames.
struct TemporalConv3d: Sendable {
    let weight: Tensor
    let bias: Tensor?

    init(_ loader: WeightLoader, input: Int, output: Int) throws {
        weight = try loader.operatorWeight("weight", shape: [output, input, 3, 1, 1])
        bias = try loader.tensor("bias", shape: [output])
    }

    /// `x [B, C, F, H, W]` -> `[B, O, F + 2*padding - 2, H, W]`.
    func callAsFunction(_ x: Tensor, _ backend: any Backend, padding: Int = 1) throws -> Tensor {
        try backend.temporalConv(x, weight: weight, bias: bias, padding: padding)
    }
}

/// `torch.nn.GroupNorm` over `[N, C, *]`.
struct GroupNorm: Sendable {
    let groups: Int
    let epsilon: Float
    let weight: Tensor
    let bias: Tensor

    init(_ loader: WeightLoader, groups: Int, channels: Int, epsilon: Float) throws {
        guard channels % groups == 0 else {
            throw ModelError("group norm of \(channels) channels cannot have \(groups) groups")
        }
        self.groups = groups
        self.epsilon = epsilon
        weight = try loader.tensor("weight", shape: [channels])
        bias = try loader.tensor("bias", shape: [channels])
    }

    func callAsFunction(_ x: Tensor, _ backend: any Backend) throws -> Tensor {
        try backend.groupNorm(x, groups: groups, weight: weight, bias: bias, epsilon: epsilon)
    }

    /// The norm followed by `activation`, as one backend op.
    func callAsFunction(_ x: Tensor, _ backend: any Backend, then activation: Activation) throws -> Tensor {
        try backend.groupNorm(x, groups: groups, weight: weight, bias: bias, epsilon: epsilon, activation: activation)
    }
}

/// `torch.nn.LayerNorm` over the last axis, with affine parameters.
struct LayerNorm: Sendable {
    let epsilon: Float
    let weight: Tensor
    let bias: Tensor

    init(_ loader: WeightLoader, dim: Int, epsilon: Float = 1e-5) throws {
        self.epsilon = epsilon
        weight = try loader.tensor("weight", shape: [dim])
        bias = try loader.tensor("bias", shape: [dim])
    }

    func callAsFunction(_ x: Tensor, _ backend: any Backend) throws -> Tensor {
        try backend.layerNorm(x, weight: weight, bias: bias, epsilon: epsilon)
    }
}

/// diffusers' `TimestepEmbedding` (`linear_1`, SiLU, `linear_2`).
struct TimestepEmbedding: Sendable {
    let linear1: Linear
    let linear2: Linear

    init(_ loader: WeightLoader, input: Int, output: Int) throws {
        linear1 = try Linear(loader.scope("linear_1"), input: input, output: output)
        linear2 = try Linear(loader.scope("linear_2"), input: output, output: output)
    }

    func callAsFunction(_ x: Tensor, _ backend: any Backend) throws -> Tensor {
        try linear2(backend.activation(linear1(x, backend), .silu), backend)
    }
}
