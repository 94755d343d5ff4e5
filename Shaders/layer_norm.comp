#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// Layer normalisation over the last axis: x [rows, D] -> out [rows, D],
// out = (x - mean) * rsqrt(var + epsilon) * w + b with the mean and biased variance of the row,
// two passes (the mean, then the deviations from it, whose sum also corrects the mean's
// rounding, as the CPU backend's Moments does). Per-invocation partials are Kahan-compensated
// f32 added by a fixed shared-memory tree. weight / bias are read only when hasWeight / hasBias.
// Per-row: one workgroup of 256 invocations per row.

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer Weight { float weight[]; };
layout(set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(set = 0, binding = 3) writeonly buffer Out { float outValues[]; };

layout(push_constant) uniform Push {
    uint rows, D;
    float epsilon;
    uint hasWeight, hasBias;
} p;

shared float partialA[256];
shared float partialB[256];

// sum += v with Kahan compensation (sum - compensation is the running total).
void kahanAdd(inout float sum, inout float compensation, float v) {
    precise float y = v - compensation;
    precise float t = sum + y;
    precise float c = (t - sum) - y;
    compensation = c;
    sum = t;
}

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
    if (p.D == 0) {
        return;  // uniform across the dispatch
    }
    float n = float(p.D);
    for (uint row = gl_WorkGroupID.x; row < p.rows; row += gl_NumWorkGroups.x) {
        uint base = row * p.D;

        float sum = 0.0, sumC = 0.0;
        for (uint i = t; i < p.D; i += 256) {
            kahanAdd(sum, sumC, x[base + i]);
        }
        float center = workgroupSum(sum - sumC, 0.0).x / n;

        float deviations = 0.0, deviationsC = 0.0, squares = 0.0, squaresC = 0.0;
        for (uint i = t; i < p.D; i += 256) {
            precise float d = x[base + i] - center;
            kahanAdd(deviations, deviationsC, d);
            kahanAdd(squares, squaresC, d * d);
        }
        vec2 moments = workgroupSum(deviations - deviationsC, squares - squaresC);
        float mean = center + moments.x / n;
        float variance = max(0.0, moments.y - moments.x * moments.x / n) / n;
        float rstd = inversesqrt(variance + p.epsilon);

        for (uint i = t; i < p.D; i += 256) {
            precise float y = (x[base + i] - mean) * rstd;
            if (p.hasWeight != 0) {
                y *= weight[i];
            }
            if (p.hasBias != 0) {
                y += bias[i];
            }
            outValues[base + i] = y;
        }
    }
}
