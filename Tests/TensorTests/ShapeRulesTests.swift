import Tensor
import Testing

/// The shared shape rules of the compute ops (`Shape+Compute.swift`): the result shapes they
/// compute, and a thrown error naming the op and the mismatch for each kind of bad operand.
@Suite("Shape rules of the compute ops")
struct ShapeRulesTests {
    @Test func resultShapes() throws {
        #expect(try Shape.linear([2, 3, 5], weight: [7, 5], bias: [7]) == [2, 3, 7])
        #expect(try Shape.linear([4, 0], weight: [3, 0], bias: nil) == [4, 3])
        #expect(try Shape.conv2d([2, 3, 7, 5], weight: [4, 3, 3, 3], bias: nil, stride: 2, padding: 1) == [2, 4, 4, 3])
        #expect(try Shape.conv2d([1, 2, 6, 5], weight: [3, 2, 2, 2], bias: [3], stride: 1, padding: 1) == [1, 3, 7, 6])
        #expect(try Shape.temporalConv([2, 3, 16, 4, 6], weight: [5, 3, 3, 1, 1], bias: [5], padding: 1) == [2, 5, 16, 4, 6])
        #expect(try Shape.temporalConv([1, 3, 4, 2, 2], weight: [5, 3, 3], bias: nil, padding: 0) == [1, 5, 2, 2, 2])
        #expect(try Shape.attention(query: [2, 9, 16], key: [2, 4, 16], value: [2, 4, 16], heads: 2, bias: [9, 4])
            == [2, 9, 16])
        #expect(try Shape.groupNorm([2, 32, 4, 5], groups: 8, weight: [32], bias: nil) == (2, 80))
        #expect(try Shape.groupNorm([2, 6], groups: 3, weight: nil, bias: nil, statistics: (6, 6)) == (2, 2))
        #expect(try Shape.layerNorm([3, 7], weight: [7], bias: [7]) == 7)
    }

    @Test("each bad operand is an error naming the op and the problem")
    func badOperands() {
        let cases: [(() throws -> Void, String)] = [
            ({ _ = try Shape.linear([], weight: [1, 1], bias: nil) }, "linear: input must have at least one axis"),
            ({ _ = try Shape.linear([2, 3], weight: [4, 3, 1], bias: nil) }, "linear: weight must have rank 2"),
            ({ _ = try Shape.linear([2, 3], weight: [4, 5], bias: nil) }, "linear: input's last axis 3 does not match weight [4, 5]"),
            ({ _ = try Shape.linear([2, 3], weight: [4, 3], bias: [3]) }, "linear: bias must be a vector of 4 elements"),
            ({ _ = try Shape.conv2d([1, 3, 4, 4], weight: [2, 4, 3, 3], bias: nil, stride: 1, padding: 1) },
             "conv2d: weight [2, 4, 3, 3] expects 4 input channels, input [1, 3, 4, 4] has 3"),
            ({ _ = try Shape.conv2d([1, 3, 4, 4], weight: [2, 3, 3, 3], bias: nil, stride: 0, padding: 1) },
             "conv2d: stride must be at least 1"),
            ({ _ = try Shape.conv2d([1, 3, 4, 4], weight: [2, 3, 3, 3], bias: nil, stride: 1, padding: -1) },
             "conv2d: padding must be non-negative"),
            ({ _ = try Shape.conv2d([1, 3, 1, 4], weight: [2, 3, 3, 3], bias: nil, stride: 1, padding: 0) },
             "conv2d: kernel 3x3 does not fit input [1, 3, 1, 4] with padding 0"),
            ({ _ = try Shape.conv2d([1, 3, 4], weight: [2, 3, 3, 3], bias: nil, stride: 1, padding: 0) },
             "conv2d: input must have rank 4"),
            ({ _ = try Shape.temporalConv([1, 3, 4, 2, 2], weight: [5, 3, 3, 2, 1], bias: nil, padding: 1) },
             "temporalConv: weight must be [O, C, K, 1, 1] or [O, C, K]"),
            ({ _ = try Shape.temporalConv([1, 3, 2, 2, 2], weight: [5, 3, 5], bias: nil, padding: 0) },
             "temporalConv: 5 taps do not fit 2 frames with padding 0"),
            ({ _ = try Shape.attention(query: [2, 9, 16], key: [2, 4, 8], value: [2, 4, 8], heads: 2, bias: nil) },
             "attention: key [2, 4, 8] does not match query [2, 9, 16]"),
            ({ _ = try Shape.attention(query: [2, 9, 16], key: [2, 4, 16], value: [2, 5, 16], heads: 2, bias: nil) },
             "attention: value [2, 5, 16] must have the key's shape"),
            ({ _ = try Shape.attention(query: [2, 9, 16], key: [2, 4, 16], value: [2, 4, 16], heads: 3, bias: nil) },
             "attention: heads must be a positive divisor of the width 16"),
            ({ _ = try Shape.attention(query: [2, 9, 16], key: [2, 4, 16], value: [2, 4, 16], heads: 2, bias: [4, 9]) },
             "attention: bias must be [9, 4], got [4, 9]"),
            ({ _ = try Shape.groupNorm([2], groups: 1, weight: nil, bias: nil) }, "groupNorm: input [2] needs at least the axes [N, C]"),
            ({ _ = try Shape.groupNorm([2, 6, 3], groups: 4, weight: nil, bias: nil) }, "do not split into 4 groups"),
            ({ _ = try Shape.groupNorm([2, 6, 3], groups: 3, weight: [3], bias: nil) }, "groupNorm: weight must be a vector of 6"),
            ({ _ = try Shape.groupNorm([2, 6], groups: 3, weight: nil, bias: nil, statistics: (3, 6)) },
             "groupNorm: 3 means and 6 variances for 6 (sample, group) pairs"),
            ({ _ = try Shape.layerNorm([3, 7], weight: nil, bias: [6]) }, "layerNorm: bias must be a vector of 7 elements"),
        ]
        for (check, message) in cases {
            #expect {
                try check()
            } throws: { error in
                (error as? TensorError)?.description.contains(message) == true
            }
        }
    }
}
