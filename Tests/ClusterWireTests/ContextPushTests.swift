import ClusterWire
import Parallel
import RPC
import Testing

/// The hand-written PushContext codec against the generic protobuf-c one, both ways.
@Suite struct ContextPushTests {
    static let tensorPush = ContextPush(jobID: "job-7", epoch: 3, forward: 12, kind: .attention, site: 41, fromClip: 5,
                                        part: .gather,
                                        tensor: HostTensor(shape: [2, 3, 4], values: (0 ..< 24).map { Float($0) * -0.5 + 0.25 }))
    static let valuesPush = ContextPush(jobID: "j", epoch: 1 << 40, forward: -1, kind: .groupNorm, site: 0, fromClip: 0,
                                        part: .reduce, values: [1.5, -0.0, .infinity, 3e-300])

    /// The same contribution in the generic message types.
    static func generic(_ push: ContextPush) -> PushContextRequest {
        PushContextRequest(contributions: [ContextContribution(
            key: ContextKey(jobID: push.jobID, epoch: push.epoch, forward: push.forward, kind: push.kind, site: push.site),
            fromClip: push.fromClip, part: push.part, tensor: push.tensor.map { WireTensor($0) }, values: push.values)])
    }

    @Test(arguments: [tensorPush, valuesPush])
    func agreesWithProtobufC(push: ContextPush) throws {
        // Our bytes read by protobuf-c, and protobuf-c's bytes read by us.
        #expect(try PushContextRequest(serializedBytes: push.serializedBytes()) == Self.generic(push))
        #expect(try ContextPush(serializedBytes: Self.generic(push).serializedBytes()) == push)
        #expect(push.serializedBytes() == Self.generic(push).serializedBytes())
    }

    @Test func largeTensorRoundTrips() throws {
        let values = (0 ..< 300_000).map { Float(bitPattern: UInt32(truncatingIfNeeded: $0 &* 2_654_435_761)) }
        let push = ContextPush(jobID: "big", epoch: 2, forward: 0, kind: .convolution, site: 9, fromClip: 1, part: .tail,
                               tensor: HostTensor(shape: [300, 1000], values: values))
        let decoded = try ContextPush(serializedBytes: push.serializedBytes())
        #expect(decoded.tensor?.shape == [300, 1000])
        #expect(decoded.tensor?.values.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test func malformedInputIsRejected() throws {
        let bytes = Self.tensorPush.serializedBytes()
        for cut in [1, 5, bytes.count / 2, bytes.count - 1] {
            #expect(throws: RPCError.self) { try ContextPush(serializedBytes: Array(bytes.prefix(cut))) }
        }
        #expect(throws: RPCError(code: .invalidArgument, message: "PushContextRequest: no contribution")) {
            try ContextPush(serializedBytes: [])
        }
        // A tensor whose data does not fill its shape.
        var wrong = Self.generic(Self.tensorPush)
        wrong.contributions[0].tensor?.shape = [2, 3, 5]
        #expect(throws: RPCError(code: .invalidArgument,
                                 message: "contribution.tensor: 96 bytes of data, shape [2, 3, 5] needs 120")) {
            try ContextPush(serializedBytes: wrong.serializedBytes())
        }
    }
}
