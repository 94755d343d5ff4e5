/// The element types a tensor can hold.
///
/// Compute happens in `f32` on the CPU backend; `f16` and `bf16` exist for weights on disk and
/// for device storage on backends that support it.
public enum DType: String, Sendable, CaseIterable, Hashable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        }
    }
}
