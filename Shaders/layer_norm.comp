#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common.glsl"

// Layer normalisation over the last axis: x [rows, D] -> out [rows, D],
// out = (x - mean) * rsqrt(var + epsilon) * w + b with the mean and biased variance of the row,
// two passes (the mean, then the deviations from it, whose sum also corrects the mean's
// rounding, as the CPU backend's Moments does), Kahan-compensated f32. weight / bias are read
// only when hasWeight / hasBias.
// Two layouts, by specialization constant 0 `PER_SUBGROUP`:
// - 0, per-row-invocation: one invocation per row (rows are many and D small in a UNet's
//   transformers: a workgroup per row would leave most of it idle and pay a barrier per step of
//   its reduction), 64 invocations per workgroup, grid-stride over rows. For CPU devices
//   (lavapipe), where a workgroup's invocations are SIMD lanes of one thread.
// - 1, per-subgroup: one subgroup per row, its lanes striding over the row (consecutive lanes
//   read consecutive elements, so a GPU's loads coalesce), partial sums combined with
//   subgroupAdd; gl_NumSubgroups rows per workgroup, grid-stride over rows. For GPUs.

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint PER_SUBGROUP = 0u;

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
    // Rows, and elements within a row, this invocation takes: per-row-invocation, every element
    // of rows gl_GlobalInvocationID.x + k * (all invocations); per-subgroup, every
    // gl_SubgroupSize-th element, from its lane on, of rows (its subgroup) + k * (all subgroups).
    const bool perSubgroup = PER_SUBGROUP != 0u;
    const uint firstRow = perSubgroup ? gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID : gl_GlobalInvocationID.x;
    const uint rowStep = perSubgroup ? gl_NumWorkGroups.x * gl_NumSubgroups : gl_NumWorkGroups.x * 64;
    const uint first = perSubgroup ? gl_SubgroupInvocationID : 0u;
    const uint step = perSubgroup ? gl_SubgroupSize : 1u;
    for (uint row = firstRow; row < p.rows; row += rowStep) {
        uint base = row * p.D;

        float sum = 0.0, sumC = 0.0;
        for (uint i = first; i < p.D; i += step) {
            kahanAdd(sum, sumC, x[base + i]);
        }
        float total = sum - sumC;
        if (perSubgroup) {
            total = subgroupAdd(total);
        }
        float center = total / n;

        float deviations = 0.0, deviationsC = 0.0, squares = 0.0, squaresC = 0.0;
        for (uint i = first; i < p.D; i += step) {
            precise float d = x[base + i] - center;
            kahanAdd(deviations, deviationsC, d);
            kahanAdd(squares, squaresC, d * d);
        }
        float deviationSum = deviations - deviationsC;
        float squareSum = squares - squaresC;
        if (perSubgroup) {
            deviationSum = subgroupAdd(deviationSum);
            squareSum = subgroupAdd(squareSum);
        }
        float mean = center + deviationSum / n;
        float variance = max(0.0, squareSum - deviationSum * deviationSum / n) / n;
        float rstd = inversesqrt(variance + p.epsilon);

        for (uint i = first; i < p.D; i += step) {
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
