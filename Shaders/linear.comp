#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// linear: out[M, N] = x[M, K] * weight[N, K]^T + bias[N].
//
// Tiled GEMM: each workgroup (16 x 16 invocations) computes a 64 x 64 output tile,
// gl_WorkGroupID.x indexing 64-column tiles (N), gl_WorkGroupID.y 64-row tiles (M).
// Each invocation holds a 4 x 4 register block: rows ty + 16*i, columns tx + 16*j
// (strided, so that shared-memory reads are broadcasts or consecutive words and the
// stores of a row are consecutive). The reduction runs in K tiles of 16, staged through
// shared memory (k-major, row stride 66 floats: conflict-free stores and reads), with the
// next tile prefetched into registers while the current one is multiplied.
// Out-of-range loads read as zero; out-of-range stores are skipped, so any M, N, K >= 1 works.
//
// With GEGLU = 1 (specialization constant 3) the op is diffusers' GEGLU projection and gate,
// out[M, N/2] = h * gelu(g) with (h, g) the two halves of x * weight^T + bias: a tile's 64
// columns are 32 outputs' hidden columns (tile columns 0-31) and their gate columns (32-63), so
// each invocation holds an output's h in acc[i][j] and its g in acc[i][j + 2] and stores only
// the gated value; the [M, N] projection never reaches memory.

layout(local_size_x = 16, local_size_y = 16, local_size_z = 1) in;

layout(set = 0, binding = 0) readonly buffer XBuffer { float data[]; } xBuf;
layout(set = 0, binding = 1) readonly buffer WeightBuffer { float data[]; } weightBuf;
// The same binding seen as packed f16 pairs (low half first), read when WEIGHT_F16 is 1.
layout(set = 0, binding = 1) readonly buffer WeightHalfBuffer { uint data[]; } weightHalfBuf;

// Specialization constant 2: 1 when the weights are stored as f16 (half the memory and
// bandwidth; arithmetic stays f32), 0 for f32.
layout(constant_id = 2) const uint WEIGHT_F16 = 0u;
layout(constant_id = 3) const uint GEGLU = 0u;

float weightAt(uint i) {
    if (WEIGHT_F16 != 0u) {
        return unpackHalf2x16(weightHalfBuf.data[i >> 1u])[i & 1u];
    }
    return weightBuf.data[i];
}
layout(set = 0, binding = 2) readonly buffer BiasBuffer { float data[]; } biasBuf;
layout(set = 0, binding = 3) writeonly buffer OutBuffer { float data[]; } outBuf;

layout(push_constant) uniform Push {
    uint M;
    uint N;
    uint K;
    uint hasBias;
} p;

const uint TILE_M = 64u;
const uint TILE_N = 64u;
const uint TILE_K = 16u;
const uint STRIDE = 66u; // shared row stride (floats): 64 + 2 padding

shared float aTile[TILE_K * STRIDE]; // [k][row]
shared float bTile[TILE_K * STRIDE]; // [k][column]

// The projection column (weight row, bias entry) behind tile column c (0 ..< 64) of workgroup
// column tile `tile`, and whether it exists.
uint projectionColumn(uint tile, uint c) {
    if (GEGLU != 0u) {
        return tile * 32u + (c & 31u) + (c >= 32u ? p.N / 2u : 0u);
    }
    return tile * TILE_N + c;
}

bool projectionColumnExists(uint tile, uint c) {
    if (GEGLU != 0u) {
        return tile * 32u + (c & 31u) < p.N / 2u;
    }
    return tile * TILE_N + c < p.N;
}

void main() {
    const uint tx = gl_LocalInvocationID.x;
    const uint ty = gl_LocalInvocationID.y;
    const uint t = ty * 16u + tx;
    const uint rowBase = gl_WorkGroupID.y * TILE_M;
    const uint tile = gl_WorkGroupID.x;

    // Load mapping (both operands are row-major with K contiguous): 16 consecutive
    // invocations read 16 consecutive k of one row; rows loadRow + 16*l.
    const uint loadK = t % 16u;
    const uint loadRow = t / 16u;

    float acc[4][4];
    for (uint j = 0u; j < 4u; ++j) {
        float b = 0.0;
        if (p.hasBias != 0u && projectionColumnExists(tile, tx + 16u * j)) {
            b = biasBuf.data[projectionColumn(tile, tx + 16u * j)];
        }
        for (uint i = 0u; i < 4u; ++i) {
            acc[i][j] = b;
        }
    }

    float aNext[4];
    float bNext[4];
    for (uint l = 0u; l < 4u; ++l) {
        aNext[l] = 0.0;
        bNext[l] = 0.0;
        const uint k = loadK;
        const uint row = rowBase + loadRow + 16u * l;
        if (k < p.K) {
            if (row < p.M) {
                aNext[l] = xBuf.data[row * p.K + k];
            }
            if (projectionColumnExists(tile, loadRow + 16u * l)) {
                bNext[l] = weightAt(projectionColumn(tile, loadRow + 16u * l) * p.K + k);
            }
        }
    }

    for (uint k0 = 0u; k0 < p.K; k0 += TILE_K) {
        for (uint l = 0u; l < 4u; ++l) {
            aTile[loadK * STRIDE + loadRow + 16u * l] = aNext[l];
            bTile[loadK * STRIDE + loadRow + 16u * l] = bNext[l];
        }
        barrier();

        // Prefetch the next K tile into registers while this one is multiplied.
        const uint kNext = k0 + TILE_K + loadK;
        for (uint l = 0u; l < 4u; ++l) {
            aNext[l] = 0.0;
            bNext[l] = 0.0;
            const uint row = rowBase + loadRow + 16u * l;
            if (kNext < p.K) {
                if (row < p.M) {
                    aNext[l] = xBuf.data[row * p.K + kNext];
                }
                if (projectionColumnExists(tile, loadRow + 16u * l)) {
                    bNext[l] = weightAt(projectionColumn(tile, loadRow + 16u * l) * p.K + kNext);
                }
            }
        }

        for (uint kk = 0u; kk < TILE_K; ++kk) {
            float a[4];
            float b[4];
            for (uint i = 0u; i < 4u; ++i) {
                a[i] = aTile[kk * STRIDE + ty + 16u * i];
            }
            for (uint j = 0u; j < 4u; ++j) {
                b[j] = bTile[kk * STRIDE + tx + 16u * j];
            }
            for (uint i = 0u; i < 4u; ++i) {
                for (uint j = 0u; j < 4u; ++j) {
                    acc[i][j] = fma(a[i], b[j], acc[i][j]);
                }
            }
        }
        barrier();
    }

    for (uint i = 0u; i < 4u; ++i) {
        const uint row = rowBase + ty + 16u * i;
        if (row < p.M) {
            if (GEGLU != 0u) {
                const uint width = p.N / 2u;
                for (uint j = 0u; j < 2u; ++j) {
                    const uint col = tile * 32u + tx + 16u * j;
                    if (col < width) {
                        outBuf.data[row * width + col] = acc[i][j] * gelu_erf(acc[i][j + 2u]);
                    }
                }
            } else {
                for (uint j = 0u; j < 4u; ++j) {
                    const uint col = tile * TILE_N + tx + 16u * j;
                    if (col < p.N) {
                        outBuf.data[row * p.N + col] = acc[i][j];
                    }
                }
            }
        }
    }
}
