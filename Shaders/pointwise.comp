#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// out[i] = f(x[i]) for i < count, f chosen by the specialization constant OP:
// 0 silu, 1 gelu (erf, exact), 2 gelu (tanh approximation), 3 x * factor. Grid-stride.

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Out { float outValues[]; };

layout(push_constant) uniform Push {
    uint count;
    float factor;
} p;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.count; i += gl_NumWorkGroups.x * 256) {
        float v = x[i];
        outValues[i] = OP == 3 ? v * p.factor : activate(OP, v);
    }
}
