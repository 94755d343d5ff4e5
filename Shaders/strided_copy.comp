#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// dst[dstOffset + sum(idx * dstStride)] = src[srcOffset + sum(idx * srcStride)] for every
// multi-index idx of extent[6] (row-major, extent[5] innermost; unused leading axes have extent
// 1). Strides and offsets are in elements. Grid-stride over count = product of extent.
// Serves permute, slice, concat and repeat_interleave.

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer Src { float src[]; };
layout(set = 0, binding = 1) writeonly buffer Dst { float dst[]; };

layout(push_constant) uniform Push {
    uint count, srcOffset, dstOffset, pad;
    uint extent[6], srcStride[6], dstStride[6];
} p;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.count; i += gl_NumWorkGroups.x * 256) {
        uint rest = i;
        uint s = p.srcOffset, d = p.dstOffset;
        for (int axis = 5; axis >= 0; --axis) {
            uint index = rest % p.extent[axis];
            rest /= p.extent[axis];
            s += index * p.srcStride[axis];
            d += index * p.dstStride[axis];
        }
        dst[d] = src[s];
    }
}
