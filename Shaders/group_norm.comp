#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// Group normalisation with precomputed statistics: x [N, C, S] (S = all trailing axes),
// stats [N*G, 2] = (mean, biased variance) as group_stats mode 0 writes them.
// out[i] = (x[i] - mean) * (rsqrt(var + epsilon) * w[c]) + b[c], with c = (i / S) % C,
// g = c / (C/G), n = i / (C*S), statistics of row n*G + g. weight and bias are read only when
// hasWeight / hasBias are nonzero. Grid-stride over count = N*C*S. The specialization constant
// ACTIVATION applies an activation to y before it is stored (a ResNet block's norm -> SiLU in one
// pass), numbered as common.glsl's activate (0 silu, 1 gelu, 2 gelu tanh); NONE (the default)
// stores y as it is.

layout(local_size_x = 256) in;
const uint NONE = 0xFFFFFFFFu;
layout(constant_id = 0) const uint ACTIVATION = NONE;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer Stats { float stats[]; };
layout(set = 0, binding = 2) readonly buffer Weight { float weight[]; };
layout(set = 0, binding = 3) readonly buffer Bias { float bias[]; };
layout(set = 0, binding = 4) writeonly buffer Out { float outValues[]; };

layout(push_constant) uniform Push {
    uint count, C, S, G;
    float epsilon;
    uint hasWeight, hasBias;
} p;

void main() {
    uint channelsPerGroup = p.C / p.G;
    for (uint i = gl_GlobalInvocationID.x; i < p.count; i += gl_NumWorkGroups.x * 256) {
        uint c = (i / p.S) % p.C;
        uint n = i / (p.C * p.S);
        uint row = n * p.G + c / channelsPerGroup;
        float mean = stats[2 * row];
        float variance = stats[2 * row + 1];
        float scale = inversesqrt(variance + p.epsilon);
        if (p.hasWeight != 0) {
            scale *= weight[c];
        }
        float shift = p.hasBias != 0 ? bias[c] : 0.0;
        precise float y = (x[i] - mean) * scale + shift;
        outValues[i] = activate(ACTIVATION, y);
    }
}
