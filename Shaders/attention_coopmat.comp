#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require
#define INFINITY_FLOAT16
#include "common.glsl"

// attention on cooperative matrices: the same op as attention.comp (q [batch, Lq, heads*D],
// k, v [batch, Lk, heads*D], optional bias [Lq, Lk] added to every batch row and head, -inf
// masking a key; out = softmax(scale * q k^T + bias) v, a row whose keys are all masked giving
// zeros), flash style, with both products on cooperative matrices: f16 operands (q, k, v and
// the softmax weights rounded to f16), f32 accumulation, the softmax in f32 and base 2.
//
// A workgroup of 4 subgroups takes 64 queries of one (batch, head) (gl_WorkGroupID.x: query
// tiles, .y + .z * gl_NumWorkGroups.y: b * heads + head); each subgroup owns 16 query rows. Per tile of 32 keys: the
// workgroup stages k and v (f16) in shared memory; each subgroup computes its 16 x 32 scores
// S = q k^T, stores them, and its lanes take rows: the running maximum and sum, the weights P
// (f16, shared), and the rescaling of the row's output accumulator, kept in shared memory
// (f32); then O += P v on the matrices. The end divides by the sums.
//
// Specialization constants as gemm_coopmat.comp's: local_size_x_id 0 = 4 x the subgroup size,
// 6-8 FM, FN, FK (the matrices' shape; FM divides 16, FN and FK divide 32 and D), and 1 D, the
// head width (a multiple of 16, at most 64: shared memory is 48,896 bytes at 64).

layout(local_size_x_id = 0) in;

layout(constant_id = 1) const uint D = 64u;
layout(constant_id = 6) const uint FM = 16u;
layout(constant_id = 7) const uint FN = 16u;
layout(constant_id = 8) const uint FK = 16u;

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

const uint QUERIES = 64u;      // per workgroup
const uint ROWS = 16u;         // per subgroup
const uint KEYS = 32u;         // per tile
const uint QS = D + 8u;        // row stride of q, k, v in shared memory (halves; 16-byte multiple)
const uint PS = KEYS + 8u;     // row stride of P (halves)
const float LOG2E = 1.4426950408889634;

shared float16_t sQ[QUERIES * QS];  // [query][d]
shared float16_t sK[KEYS * QS];     // [key][d]
shared float16_t sV[KEYS * QS];     // [key][d]
shared float sS[4u * ROWS * KEYS];  // per subgroup [row][key]: the scores
shared float16_t sP[4u * ROWS * PS];// per subgroup [row][key]: the weights
shared float sO[QUERIES * D];       // [query][d]: the unnormalised output
shared float rowMax[QUERIES];       // running maximum (base-2 scores), -inf before any key
shared float rowSum[QUERIES];       // running sum of the (f16-rounded) weights
shared float rowScale[QUERIES];     // this key tile's rescaling of the row's output

void main() {
    const uint t = gl_LocalInvocationID.x;
    const uint threads = gl_WorkGroupSize.x;
    const uint subgroup = gl_SubgroupID;
    const uint lane = gl_SubgroupInvocationID;
    const uint q0 = gl_WorkGroupID.x * QUERIES;
    const uint bh = gl_WorkGroupID.y + gl_WorkGroupID.z * gl_NumWorkGroups.y; // as in attention.comp
    if (bh >= p.batch * p.heads) {
        return;
    }
    const uint b = bh / p.heads;
    const uint head = bh % p.heads;
    const uint width = p.heads * D;
    const float NEG_INF = uintBitsToFloat(0xff800000u);
    const float scoreScale = p.scale * LOG2E;

    for (uint i = t; i < QUERIES * D; i += threads) {
        const uint r = i / D, d = i % D, q = q0 + r;
        sQ[r * QS + d] = toHalf(q < p.Lq ? qBuf.data[(b * p.Lq + q) * width + head * D + d] : 0.0);
        sO[i] = 0.0;
    }
    for (uint r = t; r < QUERIES; r += threads) {
        rowMax[r] = NEG_INF;
        rowSum[r] = 0.0;
    }
    barrier();

    const uint firstRow = subgroup * ROWS;
    for (uint k0 = 0u; k0 < p.Lk; k0 += KEYS) {
        for (uint i = t; i < KEYS * D; i += threads) {
            const uint j = i / D, d = i % D, key = k0 + j;
            const uint index = (b * p.Lk + key) * width + head * D + d;
            sK[j * QS + d] = toHalf(key < p.Lk ? kBuf.data[index] : 0.0);
            sV[j * QS + d] = toHalf(key < p.Lk ? vBuf.data[index] : 0.0);
        }
        barrier();

        // S = q k^T for this subgroup's rows.
        coopmat<float, gl_ScopeSubgroup, FM, FN, gl_MatrixUseAccumulator> s[(ROWS / FM) * (KEYS / FN)];
        [[unroll]] for (uint f = 0u; f < (ROWS / FM) * (KEYS / FN); ++f) {
            s[f] = coopmat<float, gl_ScopeSubgroup, FM, FN, gl_MatrixUseAccumulator>(0.0);
        }
        [[unroll]] for (uint d = 0u; d < D; d += FK) {
            [[unroll]] for (uint i = 0u; i < ROWS / FM; ++i) {
                coopmat<float16_t, gl_ScopeSubgroup, FM, FK, gl_MatrixUseA> a;
                coopMatLoad(a, sQ, (firstRow + FM * i) * QS + d, QS, gl_CooperativeMatrixLayoutRowMajor);
                [[unroll]] for (uint j = 0u; j < KEYS / FN; ++j) {
                    // B[d][key] = k[key][d]: column-major, columns QS apart.
                    coopmat<float16_t, gl_ScopeSubgroup, FK, FN, gl_MatrixUseB> bm;
                    coopMatLoad(bm, sK, (FN * j) * QS + d, QS, gl_CooperativeMatrixLayoutColumnMajor);
                    s[i * (KEYS / FN) + j] = coopMatMulAdd(a, bm, s[i * (KEYS / FN) + j]);
                }
            }
        }
        const uint scores = subgroup * ROWS * KEYS;
        [[unroll]] for (uint i = 0u; i < ROWS / FM; ++i) {
            [[unroll]] for (uint j = 0u; j < KEYS / FN; ++j) {
                coopMatStore(s[i * (KEYS / FN) + j], sS, scores + (FM * i) * KEYS + FN * j, KEYS,
                             gl_CooperativeMatrixLayoutRowMajor);
            }
        }
        subgroupMemoryBarrierShared();
        subgroupBarrier();

        // The online softmax, a row per lane.
        const uint weights = subgroup * ROWS * PS;
        for (uint r = lane; r < ROWS; r += gl_SubgroupSize) {
            const uint row = firstRow + r, q = q0 + row;
            float tileMax = NEG_INF;
            [[unroll]] for (uint j = 0u; j < KEYS; ++j) {
                const uint key = k0 + j;
                float score = NEG_INF;
                if (key < p.Lk) {
                    score = sS[scores + r * KEYS + j] * scoreScale;
                    if (p.hasBias != 0u && q < p.Lq) { score += biasBuf.data[q * p.Lk + key] * LOG2E; }
                }
                sS[scores + r * KEYS + j] = score;
                tileMax = max(tileMax, score);
            }
            const float previous = rowMax[row];
            const float maximum = max(previous, tileMax);
            const bool none = maximum == NEG_INF;
            const float rescale = none ? 1.0 : exp2(previous - maximum);
            float sum = 0.0;
            [[unroll]] for (uint j = 0u; j < KEYS; ++j) {
                const float16_t weight = float16_t(none ? 0.0 : exp2(sS[scores + r * KEYS + j] - maximum));
                sP[weights + r * PS + j] = weight;
                sum += float(weight);
            }
            rowMax[row] = maximum;
            rowSum[row] = rowSum[row] * rescale + sum;
            rowScale[row] = rescale;
        }
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        // The rows' outputs rescaled by all the lanes (consecutive lanes, consecutive channels).
        for (uint i = lane; i < ROWS * D; i += gl_SubgroupSize) {
            const uint row = firstRow + i / D;
            const float rescale = rowScale[row];
            if (rescale != 1.0) { sO[row * D + i % D] *= rescale; }
        }
        subgroupMemoryBarrierShared();
        subgroupBarrier();

        // O += P v for this subgroup's rows.
        [[unroll]] for (uint i = 0u; i < ROWS / FM; ++i) {
            [[unroll]] for (uint j = 0u; j < D / FN; ++j) {
                coopmat<float, gl_ScopeSubgroup, FM, FN, gl_MatrixUseAccumulator> o;
                const uint at = (firstRow + FM * i) * D + FN * j;
                coopMatLoad(o, sO, at, D, gl_CooperativeMatrixLayoutRowMajor);
                [[unroll]] for (uint kk = 0u; kk < KEYS; kk += FK) {
                    coopmat<float16_t, gl_ScopeSubgroup, FM, FK, gl_MatrixUseA> a;
                    coopMatLoad(a, sP, weights + (FM * i) * PS + kk, PS, gl_CooperativeMatrixLayoutRowMajor);
                    coopmat<float16_t, gl_ScopeSubgroup, FK, FN, gl_MatrixUseB> bm;
                    coopMatLoad(bm, sV, kk * QS + FN * j, QS, gl_CooperativeMatrixLayoutRowMajor);
                    o = coopMatMulAdd(a, bm, o);
                }
                coopMatStore(o, sO, at, D, gl_CooperativeMatrixLayoutRowMajor);
            }
        }
        barrier(); // every subgroup is done with sK and sV (and its rows of sO) before the next tile
    }

    for (uint i = t; i < QUERIES * D; i += threads) {
        const uint r = i / D, d = i % D, q = q0 + r;
        if (q < p.Lq) {
            const float sum = rowSum[r];
            outBuf.data[(b * p.Lq + q) * width + head * D + d] = sum > 0.0 ? sO[i] / sum : 0.0;
        }
    }
}
