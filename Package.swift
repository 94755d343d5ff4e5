// swift-tools-version:6.0
import PackageDescription

/// Infinity: distributed long video generation (Video-Infinity) on a Swift actor cluster.
///
/// Layers form a DAG; nothing imports upward (see docs/architecture.md):
///   C shims -> Tensor -> CPUBackend, Model -> Parallel -> infinity (CLI)
let package = Package(
    name: "Infinity",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "infinity", targets: ["infinity"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "CPUBackend", targets: ["CPUBackend"]),
        .library(name: "Model", targets: ["Model"]),
        .library(name: "Parallel", targets: ["Parallel"]),
    ],
    targets: [
        // C shims: one tiny target per system library.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c", providers: [.apt(["libprotobuf-c-dev"])]),
        .systemLibrary(name: "CVulkan", pkgConfig: "vulkan", providers: [.apt(["libvulkan-dev"])]),

        // Tensors, dtypes, the Backend protocol, PyTorch-compatible RNG.
        .target(name: "Tensor"),
        // Run-time check that the CPU has the extensions CPUBackend is compiled for.
        .target(name: "CCPUFeatures"),
        // The reference backend: OpenBLAS GEMM plus multi-threaded Swift SIMD kernels, compiled
        // for AVX2 + FMA on x86-64 (checked at run time through CCPUFeatures).
        .target(name: "CPUBackend", dependencies: ["Tensor", "COpenBLAS", "CCPUFeatures"],
                swiftSettings: [.unsafeFlags(["-Xcc", "-mavx2", "-Xcc", "-mfma", "-Xcc", "-mf16c"],
                                             .when(platforms: [.linux]))]),
        // safetensors, diffusers configs, UNet3DConditionModel, schedulers, guidance.
        .target(name: "Model", dependencies: ["Tensor"]),
        // Clip plans, context exchange, dual-scope attention, the lock-step clip-parallel sampler.
        .target(name: "Parallel", dependencies: ["Tensor", "Model"]),
        // gRPC over HTTP/2 on nghttp2: server, client channel, health. Knows nothing of models.
        .target(name: "RPC", dependencies: ["CNGHTTP2"]),
        // The command-line tool.
        .executableTarget(name: "infinity", dependencies: ["Tensor", "CPUBackend", "Model", "Parallel"]),

        .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
        .testTarget(name: "CPUBackendTests", dependencies: ["Tensor", "CPUBackend"]),
        .testTarget(name: "ModelTests", dependencies: ["Tensor", "CPUBackend", "Model"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "ParallelTests", dependencies: ["Tensor", "CPUBackend", "Model", "Parallel"]),
        .testTarget(name: "RPCTests", dependencies: ["RPC"]),
        // Runs the built `infinity` binary as a user would.
        .testTarget(name: "CLITests", dependencies: ["infinity", "Model"]),
    ],
    swiftLanguageModes: [.v6]
)
