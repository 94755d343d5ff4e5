#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// out[i] = a[i] + b[j]: a and out contiguous of shape extent[6] (row-major, extent[5]
// innermost, unused leading axes 1); j = sum of i's multi-index times bStride (0 on the axes
// where b broadcasts). Grid-stride over count = product of extent.

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) readonly buffer B { float b[]; };
layout(set = 0, binding = 2) writeonly buffer Out { float outValues[]; };

layout(push_constant) uniform Push {
    uint count, pad0, pad1, pad2;
    uint extent[6], bStride[6];
} p;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.count; i += gl_NumWorkGroups.x * 256) {
        uint rest = i;
        uint j = 0;
        for (int axis = 5; axis >= 0; --axis) {
            j += (rest % p.extent[axis]) * p.bStride[axis];
            rest /= p.extent[axis];
        }
        outValues[i] = a[i] + b[j];
    }
}
