#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// temporal_conv: a Conv3d with kernel (K, 1, 1) along frames, as an implicit GEMM.
//
// x [batch, C, F, S] (S = H*W), weight [O, C, K], bias [O], `padding` zero frames on both
// sides -> out [batch, O, FO, S] with FO = F + 2*padding - K + 1.
// GEMM rows m = (b, fo, s) over batch*FO*S, columns = output channels o, reduction
// kk = c*K + k over C*K:
//   A[m][kk] = x[b, c, fo + k - padding, s] (0 for frames outside [0, F)),
//   B[kk][o] = weight[o*C*K + kk].
// Each workgroup (16 x 16 invocations) computes a 64 x 64 output tile, gl_WorkGroupID.x
// indexing 64-channel tiles (O), gl_WorkGroupID.y 64-row tiles. Each invocation holds a
// 4 x 4 register block: rows tx + 16*i (consecutive across invocations, so the stores are
// coalesced), channels ty + 16*j. K tiles of 16 go through shared memory with the next
// tile prefetched into registers.

layout(local_size_x = 16, local_size_y = 16, local_size_z = 1) in;

layout(set = 0, binding = 0) readonly buffer XBuffer { float data[]; } xBuf;
layout(set = 0, binding = 1) readonly buffer WeightBuffer { float data[]; } weightBuf;
// The same binding seen as packed f16 pairs (low half first), read when WEIGHT_F16 is 1.
layout(set = 0, binding = 1) readonly buffer WeightHalfBuffer { uint data[]; } weightHalfBuf;

// Specialization constant 2: 1 when the weights are stored as f16 (half the memory and
// bandwidth; arithmetic stays f32), 0 for f32.
layout(constant_id = 2) const uint WEIGHT_F16 = 0u;

float weightAt(uint i) {
    if (WEIGHT_F16 != 0u) {
        return unpackHalf2x16(weightHalfBuf.data[i >> 1u])[i & 1u];
    }
    return weightBuf.data[i];
}
layout(set = 0, binding = 2) readonly buffer BiasBuffer { float data[]; } biasBuf;
layout(set = 0, binding = 3) writeonly buffer OutBuffer { float data[]; } outBuf;

layout(push_constant) uniform Push {
    uint batch;
    uint C;
    uint F;
    uint S;
    uint O;
    uint K;
    uint padding;
    uint FO;
    uint hasBias;
} p;

const uint TILE_M = 64u;
const uint TILE_N = 64u;
const uint TILE_K = 16u;
const uint STRIDE = 66u; // shared row stride (floats): 64 + 2 padding

shared float aTile[TILE_K * STRIDE]; // [kk][row]
shared float bTile[TILE_K * STRIDE]; // [kk][channel]

// Loads K tile k0 into registers: aOut[l] = A[this invocation's row][k0 + aK + 4*l],
// bOut[l] = B[k0 + bK][o0 + 16*l]; zero outside the matrices and in the padding frames.
// f0 = fo - padding of this invocation's row, xBase = b*C*F*S + s.
void loadTiles(uint k0, bool aValid, int f0, uint xBase, uint aK, uint bK, uint o0, uint reduction,
               out float aOut[4], out float bOut[4]) {
    for (uint l = 0u; l < 4u; ++l) {
        const uint kk = k0 + aK + 4u * l;
        float value = 0.0;
        if (aValid && kk < reduction) {
            const uint c = kk / p.K;
            const int f = f0 + int(kk % p.K);
            if (f >= 0 && f < int(p.F)) {
                value = xBuf.data[xBase + (c * p.F + uint(f)) * p.S];
            }
        }
        aOut[l] = value;
    }
    for (uint l = 0u; l < 4u; ++l) {
        const uint kk = k0 + bK;
        const uint o = o0 + 16u * l;
        float value = 0.0;
        if (kk < reduction && o < p.O) {
            value = weightAt(o * reduction + kk);
        }
        bOut[l] = value;
    }
}

void main() {
    const uint tx = gl_LocalInvocationID.x;
    const uint ty = gl_LocalInvocationID.y;
    const uint t = ty * 16u + tx;
    const uint rowBase = gl_WorkGroupID.y * TILE_M;
    const uint colBase = gl_WorkGroupID.x * TILE_N;

    const uint plane = p.FO * p.S; // output elements per (b, o)
    const uint rows = p.batch * plane;
    const uint reduction = p.C * p.K;

    // A load mapping: invocation t loads row t % 64 (consecutive s across invocations:
    // coalesced), reduction indices t / 64 + 4*l.
    const uint aPixel = t % 64u;
    const uint aK = t / 64u;
    const uint aRow = rowBase + aPixel;
    const bool aValid = aRow < rows;
    int f0 = 0;
    uint xBase = 0u;
    if (aValid) {
        const uint b = aRow / plane;
        const uint rem = aRow % plane;
        const uint fo = rem / p.S;
        const uint s = rem % p.S;
        f0 = int(fo) - int(p.padding);
        xBase = b * p.C * p.F * p.S + s;
    }

    // B load mapping: 16 consecutive invocations read 16 consecutive kk of one channel's
    // weights; channels bChannel + 16*l.
    const uint bK = t % 16u;
    const uint bChannel = t / 16u;

    float acc[4][4];
    for (uint j = 0u; j < 4u; ++j) {
        const uint o = colBase + ty + 16u * j;
        float bias = 0.0;
        if (p.hasBias != 0u && o < p.O) {
            bias = biasBuf.data[o];
        }
        for (uint i = 0u; i < 4u; ++i) {
            acc[i][j] = bias;
        }
    }

    float aNext[4];
    float bNext[4];
    // The first K tile into registers.
    loadTiles(0u, aValid, f0, xBase, aK, bK, colBase + bChannel, reduction, aNext, bNext);

    for (uint k0 = 0u; k0 < reduction; k0 += TILE_K) {
        for (uint l = 0u; l < 4u; ++l) {
            aTile[(aK + 4u * l) * STRIDE + aPixel] = aNext[l];
            bTile[bK * STRIDE + bChannel + 16u * l] = bNext[l];
        }
        barrier();

        // Prefetch the next K tile into registers while this one is multiplied.
        loadTiles(k0 + TILE_K, aValid, f0, xBase, aK, bK, colBase + bChannel, reduction, aNext, bNext);

        for (uint kk = 0u; kk < TILE_K; ++kk) {
            float a[4];
            float b[4];
            for (uint i = 0u; i < 4u; ++i) {
                a[i] = aTile[kk * STRIDE + tx + 16u * i];
            }
            for (uint j = 0u; j < 4u; ++j) {
                b[j] = bTile[kk * STRIDE + ty + 16u * j];
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
        const uint m = rowBase + tx + 16u * i;
        if (m < rows) {
            const uint b = m / plane;
            const uint rem = m % plane;
            for (uint j = 0u; j < 4u; ++j) {
                const uint o = colBase + ty + 16u * j;
                if (o < p.O) {
                    outBuf.data[(b * p.O + o) * plane + rem] = acc[i][j];
                }
            }
        }
    }
}
