import Tensor

/// Every op of the protocol is implemented in the `CPUBackend+*.swift` files.
extension CPUBackend: Backend {}
