#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// GEGLU gate: x [rows, 2 * half] -> out [rows, half], out[r, j] = x[r, j] * gelu(x[r, half + j])
// with the exact (erf) GELU. Grid-stride over count = rows * half.
// (The README's push-constant field `half` is named halfWidth here: `half` is a reserved word in
// GLSL. Same position, same layout.)

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Out { float outValues[]; };

layout(push_constant) uniform Push {
    uint count, halfWidth;
} p;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.count; i += gl_NumWorkGroups.x * 256) {
        uint row = i / p.halfWidth, column = i % p.halfWidth;
        uint base = row * 2 * p.halfWidth + column;
        precise float y = x[base] * gelu_erf(x[base + p.halfWidth]);
        outValues[i] = y;
    }
}
