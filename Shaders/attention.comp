#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// attention: multi-head scaled dot-product attention, flash style.
//
// q [batch, Lq, heads*D], k, v [batch, Lk, heads*D], optional bias [Lq, Lk] (added to every
// batch row and head; -inf masks a key) -> out [batch, Lq, heads*D] with, per (batch, head),
// out = softmax(scale * q k^T + bias) v.
//
// One query row per invocation: gl_WorkGroupID.x indexes tiles of 64 queries,
// gl_WorkGroupID.y + gl_WorkGroupID.z * gl_NumWorkGroups.y = b * heads + head. Keys and values go through shared memory in tiles of
// TILE_KEYS = 2048 / D keys (2 * TILE_KEYS * D floats <= 16 KiB for every D <= 256), which
// all invocations read at the same address (broadcasts). Within a tile the keys are taken in
// chunks of CHUNK: the chunk's scores in registers, then one online-softmax step (running
// maximum, running sum, accumulator rescaled once per chunk). The softmax is computed in base
// 2 (q pre-scaled by scale * log2(e), bias times log2(e)), as the CPU backend does. A row
// whose keys are all -inf (or Lk = 0) writes zeros. Invocations past Lq load tiles and take
// part in every barrier but compute nothing.

layout(local_size_x = 64, local_size_y = 1, local_size_z = 1) in;

// Head width, <= 256.
layout(constant_id = 1) const uint D = 64u;

layout(set = 0, binding = 0) readonly buffer QBuffer { float data[]; } qBuf;
layout(set = 0, binding = 1) readonly buffer KBuffer { float data[]; } kBuf;
layout(set = 0, binding = 2) readonly buffer VBuffer { float data[]; } vBuf;
layout(set = 0, binding = 3) readonly buffer BiasBuffer { float data[]; } biasBuf;
layout(set = 0, binding = 4) writeonly buffer OutBuffer { float data[]; } outBuf;

layout(push_constant) uniform Push {
    uint batch;
    uint Lq;
    uint Lk;
    uint heads;
    float scale;
    uint hasBias;
} p;

const uint QUERIES = 64u;
const uint TILE_KEYS = 2048u / D;         // >= 8 for D <= 256
const uint TILE_FLOATS = TILE_KEYS * D;   // <= 2048
const uint CHUNK = 8u;                    // keys per online-softmax step (<= TILE_KEYS)
const float LOG2E = 1.4426950408889634;

shared float kTile[TILE_FLOATS]; // [key][D]
shared float vTile[TILE_FLOATS]; // [key][D]

void main() {
    const uint lid = gl_LocalInvocationID.x;
    const uint qi = gl_WorkGroupID.x * QUERIES + lid;
    // (batch, head) pairs beyond 65535 (the workgroup count every device allows in y) continue in z.
    const uint bh = gl_WorkGroupID.y + gl_WorkGroupID.z * gl_NumWorkGroups.y;
    if (bh >= p.batch * p.heads) {
        return; // the whole workgroup: no barrier is left waiting
    }
    const uint b = bh / p.heads;
    const uint head = bh % p.heads;
    const uint width = p.heads * D;
    const bool valid = qi < p.Lq;
    const float NEG_INF = uintBitsToFloat(0xff800000u);

    float q[D];
    float acc[D];
    const float qScale = p.scale * LOG2E;
    const uint qBase = (b * p.Lq + qi) * width + head * D;
    for (uint c = 0u; c < D; ++c) {
        q[c] = 0.0;
        acc[c] = 0.0;
    }
    if (valid) {
        for (uint c = 0u; c < D; ++c) {
            q[c] = qBuf.data[qBase + c] * qScale;
        }
    }
    float runningMax = NEG_INF; // base-2 scores
    float runningSum = 0.0;

    const uint kvBase = b * p.Lk * width + head * D;
    const uint biasBase = qi * p.Lk;

    for (uint k0 = 0u; k0 < p.Lk; k0 += TILE_KEYS) {
        const uint n = min(TILE_KEYS, p.Lk - k0);

        barrier(); // everyone is done with the previous tile
        for (uint e = lid; e < n * D; e += QUERIES) {
            const uint key = e / D;
            const uint c = e % D;
            const uint src = kvBase + (k0 + key) * width + c;
            kTile[e] = kBuf.data[src];
            vTile[e] = vBuf.data[src];
        }
        barrier();

        if (valid) {
            for (uint j0 = 0u; j0 < n; j0 += CHUNK) {
                float s[CHUNK];
                float chunkMax = NEG_INF;
                for (uint jj = 0u; jj < CHUNK; ++jj) {
                    const uint j = j0 + jj;
                    float score = NEG_INF;
                    if (j < n) {
                        float dot = 0.0;
                        for (uint c = 0u; c < D; ++c) {
                            dot = fma(q[c], kTile[j * D + c], dot);
                        }
                        score = dot;
                        if (p.hasBias != 0u) {
                            score += biasBuf.data[biasBase + k0 + j] * LOG2E;
                        }
                    }
                    s[jj] = score;
                    chunkMax = max(chunkMax, score);
                }

                const float newMax = max(runningMax, chunkMax);
                if (newMax > NEG_INF) {
                    // exp2 never sees an infinity: masked keys and the initial maximum weigh 0.
                    const float rescale = runningMax > NEG_INF ? exp2(runningMax - newMax) : 0.0;
                    runningSum *= rescale;
                    for (uint c = 0u; c < D; ++c) {
                        acc[c] *= rescale;
                    }
                    for (uint jj = 0u; jj < CHUNK; ++jj) {
                        const uint j = j0 + jj;
                        if (j < n && s[jj] > NEG_INF) {
                            const float w = exp2(s[jj] - newMax);
                            runningSum += w;
                            for (uint c = 0u; c < D; ++c) {
                                acc[c] = fma(w, vTile[j * D + c], acc[c]);
                            }
                        }
                    }
                    runningMax = newMax;
                }
            }
        }
    }

    if (valid) {
        const float inv = runningSum > 0.0 ? div_rn(1.0, runningSum) : 0.0;
        for (uint c = 0u; c < D; ++c) {
            outBuf.data[qBase + c] = acc[c] * inv;
        }
    }
}
