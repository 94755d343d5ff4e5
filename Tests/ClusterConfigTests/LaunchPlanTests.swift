@testable import ClusterConfig
import NetworkAddress
import Testing

/// The processes `infinity launch` starts for a configuration: exact command lines.
@Suite("launch plan")
struct LaunchPlanTests {
    @Test("the example starts a coordinator and two local workers with the configured flags")
    func example() throws {
        let configuration = try ClusterConfiguration(contentsOfFile: ClusterConfigurationTests.example)
        let plan = LaunchPlan(configuration, executable: "/bin/infinity")
        let model = configuration.model.path
        #expect(plan.processes.map(\.name) == ["coordinator", "worker 0", "worker 1"])
        #expect(plan.coordinator.arguments == [
            "/bin/infinity", "coordinator", "--listen", "127.0.0.1:50051", "--checkpoint-interval", "2",
            "--heartbeat-interval-ms", "500", "--heartbeat-timeout-ms", "3000"])
        #expect(plan.coordinator.healthAddress == Endpoint(host: "127.0.0.1", port: 50051))
        #expect(plan.workers.map(\.arguments) == [50061, 50062].map { port in
            ["/bin/infinity", "worker", "--listen", "127.0.0.1:\(port)", "--coordinator", "127.0.0.1:50051",
             "--model", model, "--backend", "cpu", "--threads", "1", "--max-clips", "64"]
        })
        #expect(plan.workers.map(\.healthAddress.port) == [50061, 50062])
        #expect(plan.processes.allSatisfy { $0.sshDestination == nil })
        #expect(plan.workers.map(\.summary) == ["local, cpu 1 thread", "local, cpu 1 thread"])
    }

    @Test("remote workers run over ssh with a quoted remote command; tokens and advertised addresses pass through")
    func remote() throws {
        let configuration = try ClusterConfigurationTests.read("""
            [coordinator]
            address = "0.0.0.0:7000"
            advertise_address = "10.0.0.5:7000"
            token_file = "/etc/infinity/token"
            checkpoint_dir = "ckpt"
            executable = "/opt/infinity"
            [model]
            path = "/models/it's here"
            [[workers]]
            host = "gpu1.lan"
            port = 7001
            backend = "vulkan"
            device = 2
            weight_precision = "f16"
            cooperative_matrix = "off"
            ssh = "me@gpu1.lan"
            [[workers]]
            host = "10.0.0.5"
            port = 7002
            executable = "dev/infinity"
            """)
        let plan = LaunchPlan(configuration, executable: "/bin/infinity")
        #expect(plan.coordinator.arguments == [
            "/opt/infinity", "coordinator", "--listen", "0.0.0.0:7000", "--token-file", "/etc/infinity/token",
            "--checkpoint-interval", "2", "--checkpoint-dir", "/srv/cluster/ckpt",
            "--heartbeat-interval-ms", "500", "--heartbeat-timeout-ms", "3000"])
        #expect(plan.coordinator.healthAddress == Endpoint(host: "10.0.0.5", port: 7000))
        let remote = plan.processes[1]
        #expect(remote.sshDestination == "me@gpu1.lan")
        #expect(remote.arguments == [
            "ssh", "-o", "BatchMode=yes", "-tt", "me@gpu1.lan",
            "exec infinity worker --listen gpu1.lan:7001 --coordinator 10.0.0.5:7000 --model '/models/it'\\''s here' "
                + "--token-file /etc/infinity/token --backend vulkan --device 2 --weight-precision f16 --cooperative-matrix off --max-clips 4"])
        #expect(remote.summary == "ssh me@gpu1.lan, vulkan device 2, f16 weights, cooperative matrices off")
        #expect(remote.healthAddress == Endpoint(host: "gpu1.lan", port: 7001))
        #expect(plan.processes[2].arguments == [
            "/srv/cluster/dev/infinity", "worker", "--listen", "10.0.0.5:7002", "--coordinator", "10.0.0.5:7000",
            "--model", "/models/it's here", "--token-file", "/etc/infinity/token", "--backend", "cpu", "--max-clips", "4"])
        #expect(plan.processes[2].summary == "local, cpu all cores")
    }

    @Test("shell quoting keeps plain words and single-quotes the rest")
    func quoting() {
        #expect(LaunchPlan.shellQuoted("--listen") == "--listen")
        #expect(LaunchPlan.shellQuoted("[::1]:80") == "'[::1]:80'")
        #expect(LaunchPlan.shellQuoted("") == "''")
        #expect(LaunchPlan.shellQuoted("a b;rm -rf") == "'a b;rm -rf'")
        #expect(LaunchPlan.shellQuoted("it's") == "'it'\\''s'")
    }
}
