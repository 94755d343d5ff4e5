#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// Sinusoidal timestep embedding (diffusers' get_timestep_embedding, as the CPU backend's
// CPUBackend+Embedding.swift): t [N] -> out [N, dim], half = dim / 2,
// freq_i = exp(logPeriod * float(i) / divisor) (host: logPeriod = Float(-log(maxPeriod)),
// divisor = Float(half - shift)), argument = t[n] * freq_i in f32; columns [0, half) hold sin and
// [half, 2*half) cos (swapped to [cos, sin] when flip != 0); the last column is 0 when dim is odd.
// The product and quotient are rounded as in f32 torch (div_rn), exp is exp_f32 (about 1 ulp),
// and sin/cos get the argument reduced to [-pi, pi] first. Grid-stride over count = N*dim.

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer T { float t[]; };
layout(set = 0, binding = 1) writeonly buffer Out { float outValues[]; };

layout(push_constant) uniform Push {
    uint count, dim;
    float logPeriod, divisor;
    uint flip;
} p;

void main() {
    uint halfDim = p.dim / 2;
    uint sinOffset = p.flip != 0 ? halfDim : 0;
    uint cosOffset = p.flip != 0 ? 0 : halfDim;
    for (uint i = gl_GlobalInvocationID.x; i < p.count; i += gl_NumWorkGroups.x * 256) {
        uint n = i / p.dim, column = i % p.dim;
        if (column >= 2 * halfDim) {
            outValues[i] = 0.0;  // the padding column of an odd dim
            continue;
        }
        bool isSin = column >= sinOffset && column < sinOffset + halfDim;
        uint index = column - (isSin ? sinOffset : cosOffset);
        precise float exponent = div_rn(p.logPeriod * float(index), p.divisor);
        precise float argument = t[n] * exp_f32(exponent);
        outValues[i] = isSin ? sin_reduced(argument) : cos_reduced(argument);
    }
}
