/// A cluster as `cluster.toml` describes it: where the coordinator listens, the workers
/// `infinity launch` starts, the model they load, and defaults for jobs.
///
/// The file (every key below; `?` marks optional ones, with their default):
/// ```toml
/// [coordinator]
/// address = "127.0.0.1:50051"      # HOST:PORT it listens on (port 1...65535)
/// advertise_address = ""           # ? HOST:PORT workers dial; default `address`; required when
///                                  #   `address` is a wildcard (0.0.0.0 or ::)
/// token_file = "cluster.token"     # ? the shared secret's file; required unless every address
///                                  #   (coordinator's and workers') is loopback
/// checkpoint_interval = 2          # ? steps between clip checkpoints, 1...1000000 (2)
/// checkpoint_dir = ""              # ? also write checkpoints there; "" = memory only
/// heartbeat_interval_ms = 500      # ? 10...600000 (500)
/// heartbeat_timeout_ms = 3000      # ? more than the interval, up to 3600000 (3000)
/// executable = "/opt/bin/infinity" # ? the infinity binary to run it with (default: the
///                                  #   launching binary)
///
/// [model]
/// path = "models/unet"             # the diffusers model folder
///
/// [[workers]]                      # one table per worker, at least one
/// host = "127.0.0.1"               # the host it runs on and listens on (dialled by peers)
/// port = 50061                     # 1...65535; host:port unique, and not the coordinator's
/// backend = "cpu"                  # ? "cpu" or "vulkan" ("cpu")
/// threads = 4                      # ? cpu only: 1...1024 (default: the worker's core count)
/// device = 0                       # ? vulkan only: the device index, 0...255 (0)
/// weight_precision = "f16"         # ? vulkan only: "f32" or "f16" linear/conv weights ("f32")
/// cooperative_matrix = "auto"      # ? vulkan only: "auto", "on" or "off": GEMMs on matrix units ("auto")
/// max_clips = 4                    # ? clips it holds at once, 1...1024 (4)
/// ssh = "user@host"                # ? start it over ssh; "" = a local process
/// executable = "/opt/bin/infinity" # ? the infinity binary to run; default: for a local worker
///                                  #   the launching binary, over ssh `infinity` on the PATH
///
/// [generation]                     # ? defaults for `infinity generate --coordinator`
/// frames = 64                      # ? 1...1000000 (no default)
/// clip_frames = 16                 # ? 1...frames (default: frames)
/// height = 32                      # ? latent height, 1...4096 (no default)
/// width = 32                       # ? latent width, 1...4096 (no default)
/// steps = 30                       # ? 1...1000 (30)
/// guidance = 7.5                   # ? 0...100 (7.5)
/// seed = 0                         # ? 0 or more (0)
/// scheduler = "ddim"               # ? "ddim" or "dpm++" ("ddim")
/// fps = 24                         # ? 0...1000 (24)
///
/// [video_infinity]                 # ? Video-Infinity's parameters (defaults as the paper's code)
/// local_frames = 8                 # ? 0...10000
/// global_frames = 16               # ? 0...10000
/// phase_t = 800                    # ? 0...100000
/// local_bias = 10.0                # ? -10000...10000
/// global_bias = 10.0               # ? -10000...10000
/// sync_groupnorm = false           # ?
/// reference_padding = false        # ?
/// reference_global_sampling = false # ?
/// token_count_scale = false        # ?
/// ```
/// Paths (`token_file`, `checkpoint_dir`, `model.path`, `executable`) are relative to the
/// folder of the toml file and are stored absolute. A remote worker gets the same absolute
/// paths, so give its host the same layout (or use absolute paths that hold there).
///
/// Reading is strict: a wrong type, a value out of range, an unknown key or a missing required
/// key fails with a ``ClusterConfigurationError`` naming `file:line:column` and the key path
/// (`workers[1].port`). Integers are accepted where a float is expected, not the reverse.
import NetworkAddress
public struct ClusterConfiguration: Sendable, Hashable {
    /// The file the configuration was read from (as given).
    public var source: String
    /// `[coordinator]`.
    public var coordinator: Coordinator
    /// `[model]`.
    public var model: Model
    /// `[[workers]]`, in file order (index `i` is `workers[i]` in messages and `worker i` in launch).
    public var workers: [Worker]
    /// `[generation]`.
    public var generation: Generation
    /// `[video_infinity]`.
    public var videoInfinity: VideoInfinity

    /// `[coordinator]`: the coordinator's endpoint and fault-tolerance settings.
    public struct Coordinator: Sendable, Hashable {
        /// Where it listens.
        public var address: Endpoint
        /// Where workers and clients dial it (`advertise_address`, default `address`).
        public var advertiseAddress: Endpoint
        /// The cluster token's file (absolute), or nil for a loopback-only cluster.
        public var tokenFile: String?
        /// Denoising steps between clip checkpoints (at least 1).
        public var checkpointInterval: Int
        /// A folder where checkpoints are also written (absolute), or nil for memory only.
        public var checkpointDirectory: String?
        /// How often workers heartbeat, in milliseconds.
        public var heartbeatIntervalMilliseconds: Int
        /// How long without a heartbeat until a worker counts as failed, in milliseconds.
        public var heartbeatTimeoutMilliseconds: Int
        /// The infinity binary to run it with (absolute), or nil for the launching binary.
        public var executable: String?
    }

    /// `[model]`.
    public struct Model: Sendable, Hashable {
        /// The diffusers model folder (absolute).
        public var path: String
    }

    /// One `[[workers]]` entry.
    public struct Worker: Sendable, Hashable {
        /// The compute backend and its resources.
        public enum Backend: Sendable, Hashable {
            /// The CPU backend; `threads` nil lets the worker use every core.
            case cpu(threads: Int?)
            /// The Vulkan backend on device `device`, storing linear and convolution weights at
            /// `weights`, running the GEMM-shaped ops on cooperative matrices as `matrices` says.
            case vulkan(device: Int, weights: WeightPrecision = .f32, matrices: MatrixUse = .auto)

            /// How a Vulkan worker stores its linear and convolution weights.
            public enum WeightPrecision: String, Sendable, Hashable {
                case f32, f16
            }

            /// Whether a Vulkan worker runs its GEMM-shaped ops on cooperative matrices
            /// (`--cooperative-matrix`): where the device has them, always (an error where it
            /// has none), or never.
            public enum MatrixUse: String, Sendable, Hashable, CaseIterable {
                case auto, on, off
            }

            /// `cpu` or `vulkan`.
            public var name: String {
                switch self {
                case .cpu: "cpu"
                case .vulkan: "vulkan"
                }
            }
        }

        /// Where it listens (and where the coordinator and peers dial it).
        public var address: Endpoint
        /// Its backend.
        public var backend: Backend
        /// How many clips it holds at once.
        public var maxClips: Int
        /// `user@host` to start it over ssh, or nil for a local process.
        public var ssh: String?
        /// The infinity binary to run, or nil for the default (see the type's documentation).
        public var executable: String?
    }

    /// `[generation]`: defaults for jobs; nil where the file gives none and there is no default.
    public struct Generation: Sendable, Hashable {
        /// The video's frames.
        public var frames: Int?
        /// Frames per clip (at most `frames`).
        public var clipFrames: Int?
        /// Latent height.
        public var height: Int?
        /// Latent width.
        public var width: Int?
        /// Denoising steps.
        public var steps = 30
        /// Classifier-free guidance scale.
        public var guidance = 7.5
        /// The noise seed.
        public var seed = 0
        /// The sampler.
        public var scheduler = Scheduler.ddim
        /// Frames per second of the written video.
        public var fps = 24.0

        /// The samplers.
        public enum Scheduler: String, Sendable, Hashable, CaseIterable {
            /// DDIM.
            case ddim
            /// DPM-Solver++ (multistep).
            case dpmSolverPlusPlus = "dpm++"
        }
    }

    /// `[video_infinity]`: Video-Infinity's parameters (the defaults are the paper's).
    public struct VideoInfinity: Sendable, Hashable {
        /// Halo frames taken from each neighbour clip.
        public var localFrames = 8
        /// Frames sampled from all clips for global context.
        public var globalFrames = 16
        /// The timestep where attention switches from global to local emphasis.
        public var phaseTimestep = 800
        /// The local-context attention bias.
        public var localBias = 10.0
        /// The global-context attention bias.
        public var globalBias = 10.0
        /// GroupNorm statistics summed over all clips.
        public var syncGroupNorm = false
        /// Pad clip edges as the reference implementation does.
        public var referencePadding = false
        /// Sample global frames as the reference implementation does.
        public var referenceGlobalSampling = false
        /// Scale attention logits by the token count.
        public var tokenCountScale = false
    }
}
