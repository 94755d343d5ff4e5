@testable import Cluster
import ClusterWire
import Foundation
import Parallel
import RPC
import Testing

/// The coordinator's pure policies and the job validation, without sockets or clocks.
@Suite("cluster policies")
struct PolicyTests {
    private func slots(_ free: [Int]) -> [WorkerSlot] {
        free.enumerated().map { WorkerSlot(workerID: "w\($0.offset + 1)", freeClips: $0.element) }
    }

    @Test("placement spreads clips evenly in contiguous runs, within each worker's room")
    func placement() {
        #expect(PlacementPolicy.place(clipCount: 6, on: slots([2, 2, 2])) == ["w1", "w1", "w2", "w2", "w3", "w3"])
        #expect(PlacementPolicy.place(clipCount: 7, on: slots([4, 4, 4])) == ["w1", "w1", "w1", "w2", "w2", "w3", "w3"])
        // A tight worker takes what it can; the roomy ones absorb the rest.
        #expect(PlacementPolicy.place(clipCount: 6, on: slots([1, 8, 8])) == ["w1", "w2", "w2", "w2", "w3", "w3"])
        // Full workers are skipped; too little room means the job waits.
        #expect(PlacementPolicy.place(clipCount: 3, on: slots([0, 2, 1])) == ["w2", "w2", "w3"])
        #expect(PlacementPolicy.place(clipCount: 4, on: slots([0, 2, 1])) == nil)
        #expect(PlacementPolicy.place(clipCount: 1, on: []) == nil)
        #expect(PlacementPolicy.place(clipCount: 2, on: slots([5])) == ["w1", "w1"])
        // Every clip placed exactly once, never beyond capacity, for many shapes.
        for clips in 1 ... 12 {
            for free in [[1, 1, 1, 1], [3, 0, 5], [2, 7], [12], [1, 2, 3, 4, 5]] where free.reduce(0, +) >= clips {
                let placement = PlacementPolicy.place(clipCount: clips, on: slots(free))!
                #expect(placement.count == clips)
                for (index, room) in free.enumerated() {
                    #expect(placement.filter { $0 == "w\(index + 1)" }.count <= room)
                }
                // Contiguous runs in worker order.
                #expect(placement == placement.sorted { Int($0.dropFirst())! < Int($1.dropFirst())! })
            }
        }
    }

    @Test("failure detection: silent past the timeout, by explicit instants")
    func failureDetector() {
        var detector = FailureDetector(timeout: .seconds(3))
        let start = ContinuousClock.now
        detector.heard(from: "w1", at: start)
        detector.heard(from: "w2", at: start + .seconds(2))
        #expect(detector.expired(at: start + .seconds(3)) == [])
        #expect(detector.expired(at: start + .milliseconds(3001)) == ["w1"])
        #expect(detector.expired(at: start + .seconds(6)) == ["w1", "w2"])
        // A late, stale sign of life does not move the clock back.
        detector.heard(from: "w2", at: start + .seconds(5))
        detector.heard(from: "w2", at: start + .seconds(1))
        #expect(detector.expired(at: start + .seconds(7)) == ["w1"])
        detector.forget("w1")
        #expect(detector.expired(at: start + .seconds(7)) == [])
        #expect(detector.watched == ["w2"])
    }

    @Test("SHA-256 matches FIPS 180-4 test vectors")
    func sha256() {
        func digest(_ text: String) -> String {
            var hash = SHA256()
            hash.update(Array(text.utf8))
            return hash.finalizeHex()
        }
        #expect(digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Fed in uneven pieces, across block boundaries.
        var pieces = SHA256()
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        var offset = 0
        for size in [1, 63, 64, 65, 1000, 7] .cycled(until: million.count) {
            let end = min(million.count, offset + size)
            pieces.update(Array(million[offset ..< end]))
            offset = end
            if offset == million.count { break }
        }
        #expect(pieces.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("job parameters are validated field by field")
    func jobValidation() throws {
        let prompts = HostTensor(shape: [1, 3, 4], values: Array(repeating: 0.5, count: 12))
        let negative = HostTensor(shape: [3, 4], values: Array(repeating: 0, count: 12))
        let good = JobParameters(model: "m", embeddings: PromptEmbeddings(prompts: WireTensor(prompts), negative: WireTensor(negative)),
                                 frames: 16, clipFrames: 8, height: 8, width: 8, steps: 4, guidance: 7.5, seed: 1,
                                 scheduler: .ddim, fps: 24)
        let spec = try JobSpec(good)
        #expect(spec.plan.clipFrames == [8, 8])
        #expect(spec.videoInfinity == VideoInfinityConfig())
        // The wire form round-trips.
        #expect(try JobSpec(spec.parameters) == spec)

        func rejected(_ change: (inout JobParameters) -> Void) -> String {
            var parameters = good
            change(&parameters)
            do {
                _ = try JobSpec(parameters)
                return "accepted"
            } catch {
                #expect(error.code == .invalidArgument)
                return error.message
            }
        }
        #expect(rejected { $0.model = "" } == "model: empty; name the model (a worker's model name or hash)")
        #expect(rejected { $0.frames = 0 } == "frames: must be in 1...1000000, got 0")
        #expect(rejected { $0.clipFrames = 17 } == "clip_frames: must be in 1...frames (16), got 17")
        #expect(rejected { $0.height = 5000 } == "height: must be in 1...4096, got 5000")
        #expect(rejected { $0.steps = 0 } == "steps: must be in 1...1000, got 0")
        #expect(rejected { $0.guidance = .nan } == "guidance: must be in 0...100, got nan")
        #expect(rejected { $0.scheduler = .unspecified } == "scheduler: not set (DDIM or DPM_SOLVER_MULTISTEP)")
        let mismatched = rejected { $0.embeddings?.negative = WireTensor(prompts) }
        #expect(mismatched.hasPrefix("embeddings:"), "\(mismatched)")
        let truncated = rejected { $0.embeddings?.prompts?.data.removeLast() }
        #expect(truncated.hasPrefix("embeddings.prompts"), "\(truncated)")
        #expect(rejected { $0.videoInfinity = VideoInfinityParameters(localFrames: 9, globalFrames: 4) }
            == "video_infinity: local frames (9) cannot exceed the shortest clip (8 frames)")
        #expect(rejected { $0.frames = 1_000_000; $0.clipFrames = 16; $0.height = 4096; $0.width = 4096 }.contains("exceeds the limit"))
    }
}

extension Array {
    /// The elements repeated until their sum of counts reaches `total` (for chunking tests).
    fileprivate func cycled(until total: Int) -> [Element] {
        var result: [Element] = []
        while result.count < total { result += self }
        return result
    }
}
