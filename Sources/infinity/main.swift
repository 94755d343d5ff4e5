import Foundation

/// `infinity`: the command-line front of the runtime.
let usage = """
usage: infinity <command> [options]

commands:
  forward   one UNet forward pass on inputs from a safetensors file (reference checks)
              --model DIR --inputs FILE --out FILE \(BackendOption.usage)
  generate  denoise a long video: clip parallelism with dual-scope attention, in-process or on a cluster
              --model DIR|NAME (--prompt TEXT [--prompt TEXT ...] [--negative-prompt TEXT] | --embeddings FILE)
              --frames N --height H --width W
              --out video.mp4|video.y4m|frames/|latents.safetensors [--fps-out N] [--upscale N]
              [--clip-frames F] [--workers in-process:N | --coordinator HOST:PORT [--token-file FILE]]
              [--steps S] [--guidance G] [--seed K] [--scheduler ddim|dpm++] [--fps N]
              \(BackendOption.usage)
              [--local-frames P] [--global-frames K] [--phase-t T] [--local-bias B]
              [--global-bias B] [--sync-groupnorm] [--reference-padding]
              [--reference-global-sampling] [--token-count-scale]
  coordinator  the cluster's coordinator: job queue, clip placement, lock-step steps, checkpoints,
              recovery from worker failure; serves until SIGINT/SIGTERM
              [--listen HOST:PORT] [--token-file FILE] [--grace SECONDS] [--checkpoint-interval K]
              [--checkpoint-dir DIR] [--heartbeat-interval-ms N] [--heartbeat-timeout-ms N]
              (the cluster token may also come from INFINITY_CLUSTER_TOKEN)
  worker    the per-node agent: loads the model, registers with the coordinator, runs clips
              --coordinator HOST:PORT --model DIR [--listen HOST:PORT] [--advertise HOST:PORT]
              [--token-file FILE] \(BackendOption.usage) [--max-clips N]
  launch    start the coordinator and workers a cluster.toml names, wait until all serve health,
            stop them all on SIGINT/SIGTERM
              [cluster.toml] [--grace SECONDS] [--startup-timeout SECONDS] [-- generate ARGS]
              (with `-- generate ARGS`: run that generation on the cluster, then stop it)
  devices   list the Vulkan devices (`--device N` counts in this order)
  bench     benchmarks (unet, attention, parallel): `infinity bench --help`
"""

let arguments = CommandLine.arguments
guard arguments.count >= 2, !["-h", "--help", "help"].contains(arguments[1]) else {
    say(usage)
    exit(arguments.count >= 2 ? 0 : 2)
}

do {
    let rest = arguments.dropFirst(2)
    switch arguments[1] {
    case "forward": try await ForwardCommand.run(rest)
    case "generate": try await GenerateCommand.run(rest)
    case "bench": try await BenchCommand.run(rest)
    case "coordinator": try await CoordinatorCommand.run(rest)
    case "worker": try await WorkerCommand.run(rest)
    case "launch": try await LaunchCommand.run(rest)
    case "devices": try DevicesCommand.run(rest)
    default:
        throw Arguments.Failure(description: "unknown command '\(arguments[1])'\n\n\(usage)")
    }
} catch {
    FileHandle.standardError.write(Data("infinity: \(error)\n".utf8))
    exit(1)
}
