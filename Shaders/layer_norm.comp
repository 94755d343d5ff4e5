#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// Layer normalisation over the last axis: x [rows, D] -> out [rows, D],
// out = (x - mean) * rsqrt(var + epsilon) * w + b with the mean and biased variance of the row,
// two passes (the mean, then the deviations from it, whose sum also corrects the mean's
// rounding, as the CPU backend's Moments does), Kahan-compensated f32. weight / bias are read
// only when hasWeight / hasBias.
// Per-row-invocation: one invocation per row (rows are many and D small in a UNet's
// transformers: a workgroup per row would leave most of it idle and pay a barrier per step of
// its reduction), 64 invocations per workgroup, grid-stride over rows.

layout(local_size_x = 64) in;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer Weight { float weight[]; };
layout(set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(set = 0, binding = 3) writeonly buffer Out { float outValues[]; };

layout(push_constant) uniform Push {
    uint rows, D;
    float epsilon;
    uint hasWeight, hasBias;
} p;

void main() {
    if (p.D == 0) {
        return;
    }
    float n = float(p.D);
    for (uint row = gl_GlobalInvocationID.x; row < p.rows; row += gl_NumWorkGroups.x * 64) {
        uint base = row * p.D;

        float sum = 0.0, sumC = 0.0;
        for (uint i = 0; i < p.D; i++) {
            kahanAdd(sum, sumC, x[base + i]);
        }
        float center = (sum - sumC) / n;

        float deviations = 0.0, deviationsC = 0.0, squares = 0.0, squaresC = 0.0;
        for (uint i = 0; i < p.D; i++) {
            precise float d = x[base + i] - center;
            kahanAdd(deviations, deviationsC, d);
            kahanAdd(squares, squaresC, d * d);
        }
        float deviationSum = deviations - deviationsC;
        float mean = center + deviationSum / n;
        float variance = max(0.0, (squares - squaresC) - deviationSum * deviationSum / n) / n;
        float rstd = inversesqrt(variance + p.epsilon);

        for (uint i = 0; i < p.D; i++) {
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
