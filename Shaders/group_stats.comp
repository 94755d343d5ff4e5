#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// Per (sample, group) statistics of x [N, C, S]: group g of sample n is the C/G channels x S
// elements starting at (n*C + g*(C/G)) * S, contiguous, so row = n*G + g covers
// x[row * L ..< (row + 1) * L] with L = (C/G) * S. One workgroup of 256 invocations per row.
// mode 0: out[row] = (mean, biased variance), two passes: a mean, then the deviations from it
//         (their sum corrects the mean's rounding, as the CPU backend's Moments does).
// mode 1: out[row] = (sum, sum of squares), for statistics that add up across clips.
// Per-invocation partial sums are Kahan-compensated f32; a fixed shared-memory tree adds them,
// so results are deterministic. An empty group gives (0, 0).

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Out { float outValues[]; };

layout(push_constant) uniform Push {
    uint N, C, S, G, mode;
} p;

shared float partialA[256];
shared float partialB[256];

// Workgroup-wide sums of (a, b). Called in uniform control flow by all 256 invocations.
vec2 workgroupSum(float a, float b) {
    uint t = gl_LocalInvocationID.x;
    partialA[t] = a;
    partialB[t] = b;
    barrier();
    for (uint stride = 128; stride > 0; stride >>= 1) {
        if (t < stride) {
            partialA[t] += partialA[t + stride];
            partialB[t] += partialB[t + stride];
        }
        barrier();
    }
    vec2 total = vec2(partialA[0], partialB[0]);
    barrier();  // everyone has read the totals before the arrays are reused
    return total;
}

void main() {
    uint t = gl_LocalInvocationID.x;
    uint rows = p.N * p.G;
    uint groupLength = (p.G == 0) ? 0 : (p.C / p.G) * p.S;
    for (uint row = gl_WorkGroupID.x; row < rows; row += gl_NumWorkGroups.x) {
        uint base = row * groupLength;
        float first, second;
        if (p.mode == 0) {
            float sum = 0.0, sumC = 0.0;
            for (uint i = t; i < groupLength; i += 256) {
                kahanAdd(sum, sumC, x[base + i]);
            }
            float total = workgroupSum(sum - sumC, 0.0).x;
            float center = groupLength > 0 ? total / float(groupLength) : 0.0;

            float deviations = 0.0, deviationsC = 0.0, squares = 0.0, squaresC = 0.0;
            for (uint i = t; i < groupLength; i += 256) {
                precise float d = x[base + i] - center;
                kahanAdd(deviations, deviationsC, d);
                kahanAdd(squares, squaresC, d * d);
            }
            vec2 moments = workgroupSum(deviations - deviationsC, squares - squaresC);
            if (groupLength > 0) {
                float n = float(groupLength);
                first = center + moments.x / n;
                second = max(0.0, moments.y - moments.x * moments.x / n) / n;
            } else {
                first = 0.0;
                second = 0.0;
            }
        } else {
            float sum = 0.0, sumC = 0.0, squares = 0.0, squaresC = 0.0;
            for (uint i = t; i < groupLength; i += 256) {
                float v = x[base + i];
                kahanAdd(sum, sumC, v);
                kahanAdd(squares, squaresC, v * v);
            }
            vec2 sums = workgroupSum(sum - sumC, squares - squaresC);
            first = sums.x;
            second = sums.y;
        }
        if (t == 0) {
            outValues[2 * row] = first;
            outValues[2 * row + 1] = second;
        }
    }
}
