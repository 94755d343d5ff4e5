/// Pointwise nonlinearities.
public enum Activation: String, Sendable, CaseIterable {
    /// `x * sigmoid(x)`.
    case silu
    /// The exact (erf) GELU, as `torch.nn.functional.gelu` computes by default.
    case gelu
    /// The tanh approximation of GELU (`approximate="tanh"`).
    case geluTanh
}

/// A compute device that owns tensor memory and runs the denoiser's ops on it.
///
/// Every op takes and returns contiguous row-major ``Tensor``s whose storage belongs to this
/// backend, and allocates its result. Backends may record work lazily (a GPU backend queues
/// commands) and only synchronise in ``download(_:)``, so callers must not assume an op has
/// finished before its result is downloaded. The CPU backend is the reference every other
/// backend is tested against.
///
/// Shape mismatches are programming errors and trap with a message; resource failures
/// (out of memory, lost device) throw ``TensorError``.
public protocol Backend: AnyObject, Sendable {
    /// A short human-readable name ("cpu", "vulkan: <device>").
    var name: String { get }

    // MARK: Memory

    /// Copies `values` into a new tensor of `shape` (row-major).
    func upload(_ values: [Float], shape: [Int]) throws -> Tensor
    /// Copies a tensor's elements back to the host, waiting for pending work.
    func download(_ tensor: Tensor) throws -> [Float]
    /// A tensor of `shape` filled with zeros.
    func zeros(_ shape: [Int]) throws -> Tensor

    /// Copies a weight that only ever reaches `linear`, `conv2d` or `temporalConv` as their
    /// `weight`; a backend may store it in reduced precision (the Vulkan backend's f16 weights).
    /// The default is ``upload(_:shape:)``.
    func uploadOperatorWeight(_ values: [Float], shape: [Int]) throws -> Tensor

    /// Waits until every op issued so far has finished (for timing; ``download(_:)`` waits by itself).
    func synchronize() throws

    // MARK: Linear algebra

    /// `x @ weight^T + bias` over the last axis: `x [..., K]`, `weight [N, K]`, `bias [N]` -> `[..., N]`.
    func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor

    /// 2-D cross-correlation as `torch.nn.functional.conv2d`: `x [N, C, H, W]`,
    /// `weight [O, C, KH, KW]`, `bias [O]`, zero padding on both sides of H and W.
    func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) throws -> Tensor

    /// A convolution along frames only, as a `Conv3d` with kernel `(K, 1, 1)`:
    /// `x [B, C, F, H, W]`, `weight [O, C, K, 1, 1]` (or `[O, C, K]`), `bias [O]`, `padding`
    /// zero frames on both sides -> `[B, O, F + 2*padding - K + 1, H, W]`.
    func temporalConv(_ x: Tensor, weight: Tensor, bias: Tensor?, padding: Int) throws -> Tensor

    /// Multi-head scaled dot-product attention.
    ///
    /// `query [B, Lq, heads*d]`, `key` and `value [B, Lk, heads*d]` -> `[B, Lq, heads*d]`:
    /// per batch row and head, `softmax(scale * q k^T + bias) v`. `bias [Lq, Lk]`, when given,
    /// is added to every batch row and head; `-infinity` masks a key out. A query row whose
    /// keys are all masked yields zeros.
    func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, scale: Float,
                   bias: Tensor?) throws -> Tensor

    // MARK: Normalisation

    /// Group normalisation of `x [N, C, *]`: statistics per sample and group of `C / groups`
    /// channels over all trailing axes (biased variance), then the per-channel affine
    /// `weight [C]`, `bias [C]`.
    func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float) throws -> Tensor

    /// Per (sample, group) sums of `x [N, C, *]` over the group's `C / groups` channels and all
    /// trailing axes, accumulated in float64: the statistics a group norm needs, in a form that
    /// adds up across clips.
    func groupSums(_ x: Tensor, groups: Int) throws -> GroupSums

    /// Group normalisation of `x [N, C, *]` with given statistics: `mean` and `variance` hold one
    /// value per (sample, group), `[N * groups]`; then the per-channel affine `weight`, `bias`.
    func groupNorm(_ x: Tensor, groups: Int, mean: [Float], variance: [Float], weight: Tensor?, bias: Tensor?,
                   epsilon: Float) throws -> Tensor

    /// `activation(groupNorm(x, groups:weight:bias:epsilon:), activation)`: a ResNet block's norm
    /// and SiLU in one op, so that a backend can apply the activation before the normalised values
    /// leave its registers. The default runs the two ops.
    func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float,
                   activation: Activation) throws -> Tensor

    /// Layer normalisation over the last axis of `x [..., D]` with `weight [D]`, `bias [D]`.
    func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, epsilon: Float) throws -> Tensor

    // MARK: Pointwise

    /// Applies `activation` elementwise.
    func activation(_ x: Tensor, _ activation: Activation) throws -> Tensor

    /// GEGLU gate of diffusers' `GEGLU`: `x [..., 2n]` split into `(h, g)` halves on the last
    /// axis -> `h * gelu(g)`, `[..., n]`.
    func geglu(_ x: Tensor) throws -> Tensor

    /// `geglu(linear(x, weight: weight, bias: bias))`: diffusers' `GEGLU` projection and gate in
    /// one op, so that a backend can keep the `[..., 2n]` projection out of main memory. The
    /// default runs the two ops.
    func linearGEGLU(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor

    /// `a + b`, where `b` broadcasts to `a`'s shape (NumPy rules: `b` has at most `a`'s rank,
    /// aligned on the right, each extent equal or 1).
    func add(_ a: Tensor, _ b: Tensor) throws -> Tensor

    /// `x * factor`.
    func scale(_ x: Tensor, by factor: Float) throws -> Tensor

    // MARK: Data movement

    /// Concatenates tensors of equal shape except along `axis`.
    func concat(_ tensors: [Tensor], axis: Int) throws -> Tensor

    /// Reorders axes: result axis `i` is input axis `permutation[i]` (as `torch.permute`).
    func permute(_ x: Tensor, _ permutation: [Int]) throws -> Tensor

    /// Elements `start ..< start + length` along `axis`.
    func slice(_ x: Tensor, axis: Int, start: Int, length: Int) throws -> Tensor

    /// Repeats each slice along `axis` `times` times in place (as `torch.repeat_interleave`).
    func repeatInterleave(_ x: Tensor, times: Int, axis: Int) throws -> Tensor

    /// Nearest-neighbour resize of `x [N, C, H, W]` to `[N, C, height, width]`, exactly as
    /// `torch.nn.functional.interpolate(size=..., mode="nearest")` indexes: source index
    /// `min(floor(Float(dst) * (Float(in) / Float(out))), in - 1)`, computed in `Float`.
    func upsampleNearest(_ x: Tensor, height: Int, width: Int) throws -> Tensor

    // MARK: Embeddings

    /// Sinusoidal timestep embedding of diffusers' `get_timestep_embedding`:
    /// `timesteps [N]` -> `[N, dim]`, frequencies `exp(-ln(maxPeriod) * i / (dim/2 - shift))`,
    /// `[sin, cos]` halves (swapped to `[cos, sin]` when `flipSinToCos`), zero-padded when `dim` is odd.
    func timestepEmbedding(_ timesteps: Tensor, dim: Int, flipSinToCos: Bool, downscaleFreqShift: Float,
                           maxPeriod: Float) throws -> Tensor
}

extension Backend {
    public func uploadOperatorWeight(_ values: [Float], shape: [Int]) throws -> Tensor {
        try upload(values, shape: shape)
    }

    /// Backends that run every op before returning have nothing to wait for.
    public func synchronize() throws {}

    public func linearGEGLU(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        try geglu(linear(x, weight: weight, bias: bias))
    }

    public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float,
                          activation: Activation) throws -> Tensor {
        try self.activation(groupNorm(x, groups: groups, weight: weight, bias: bias, epsilon: epsilon), activation)
    }
}
