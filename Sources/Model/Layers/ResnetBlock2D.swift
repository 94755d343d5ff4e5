import Tensor

/// diffusers' `ResnetBlock2D` with the default time-embedding handling (added after conv1).
struct ResnetBlock2D: Sendable {
    let norm1: GroupNorm
    let conv1: Conv2d
    let timeEmbeddingProjection: Linear
    let norm2: GroupNorm
    let conv2: Conv2d
    let shortcut: Conv2d?
    let outputScaleFactor: Float

    init(_ loader: WeightLoader, input: Int, output: Int, timeEmbedDim: Int, groups: Int, epsilon: Float,
         outputScaleFactor: Float = 1) throws {
        norm1 = try GroupNorm(loader.scope("norm1"), groups: groups, channels: input, epsilon: epsilon)
        conv1 = try Conv2d(loader.scope("conv1"), input: input, output: output, kernel: 3, padding: 1)
        timeEmbeddingProjection = try Linear(loader.scope("time_emb_proj"), input: timeEmbedDim, output: output)
        norm2 = try GroupNorm(loader.scope("norm2"), groups: groups, channels: output, epsilon: epsilon)
        conv2 = try Conv2d(loader.scope("conv2"), input: output, output: output, kernel: 3, padding: 1)
        shortcut = input == output ? nil
            : try Conv2d(loader.scope("conv_shortcut"), input: input, output: output, kernel: 1, padding: 0)
        self.outputScaleFactor = outputScaleFactor
    }

    /// `x [N, C, H, W]`; `timeEmbedding [N, D]` already passed through SiLU (shared by all resnets).
    func callAsFunction(_ x: Tensor, activatedTimeEmbedding: Tensor, _ backend: any Backend) throws -> Tensor {
        var h = try conv1(norm1(x, backend, then: .silu), backend)
        let time = try timeEmbeddingProjection(activatedTimeEmbedding, backend)
        h = try backend.add(h, time.reshaped([time.shape[0], time.shape[1], 1, 1]))
        h = try conv2(norm2(h, backend, then: .silu), backend)
        let residual = try shortcut.map { try $0(x, backend) } ?? x
        let sum = try backend.add(h, residual)
        return outputScaleFactor == 1 ? sum : try backend.scale(sum, by: 1 / outputScaleFactor)
    }
}
