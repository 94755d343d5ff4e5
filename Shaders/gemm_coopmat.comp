#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_control_flow_attributes : require
#define INFINITY_FLOAT16
#include "common.glsl"

// The GEMM-shaped ops on cooperative matrices (VK_KHR_cooperative_matrix: tensor cores and the
// like): f16 operands, f32 accumulation. Chosen at run time on devices that offer f16 x f16 +
// f32 matrices at subgroup scope in a shape that fits (FM, FN, FK below); the f32 shaders
// (linear.comp, conv2d.comp, temporal_conv.comp) compute the same ops everywhere else. Debian
// 12's glslc cannot compile this file: scripts/compile-shaders.sh builds it with glslang 15
// (scripts/fetch-glslang.sh).
//
// Every op is out = A * B + bias with B[k][n] = weight[n * reduction + k] and A gathered from x:
//   OP 0, linear:        A[m][k] = x[m * K + k];                out[m * N + n]
//   OP 1, linear+GEGLU:  as linear, the tile's columns being hidden and gate pairs (below);
//                        out[m * N/2 + n] = h * gelu(g)
//   OP 2, conv2d:        m = (b, oy, ox), k = (c, ky, kx), A = x[b, c, iy, ix] (0 in padding);
//                        out[b, n, oy, ox] (NCHW)
//   OP 3, temporal conv: m = (b, fo, s), k = (c, kf), A = x[b, c, fo + kf - padding, s];
//                        out[b, n, fo, s]
// with the push constants of linear.comp, conv2d.comp and temporal_conv.comp respectively.
//
// A workgroup of 8 subgroups computes a 128 x 128 tile of out (gl_WorkGroupID.x: columns,
// .y: rows), each subgroup a 32 x 64 block as (32 / FM) x (64 / FN) accumulators of FM x FN.
// K goes in steps of 32 through shared memory as f16 (`toHalf`: inputs beyond the f16 range are
// clamped to +-65504), the next step prefetched into registers while the current one is
// multiplied. Out-of-range loads read as zero, out-of-range stores are skipped. The epilogue stages each accumulator in shared
// memory, adds the bias and stores with the op's layout (coalesced along n for linear outputs,
// along m for NCHW ones).
//
// GEGLU: a subgroup's 64 columns are 32 outputs' hidden columns and then their gate columns, so
// accumulators j and j + FRAGMENTS_N / 2 hold h and g of the same outputs; the tile covers
// 64 outputs.

layout(local_size_x_id = 0) in; // 8 subgroups: 8 * the device's subgroup size (a power of two)

layout(set = 0, binding = 0) readonly buffer XBuffer { float data[]; } xBuf;
layout(set = 0, binding = 0) readonly buffer XVectors { vec4 data[]; } xVectors;
layout(set = 0, binding = 1) readonly buffer WeightBuffer { float data[]; } weightBuf;
layout(set = 0, binding = 1) readonly buffer WeightVectors { vec4 data[]; } weightVectors;
layout(set = 0, binding = 1) readonly buffer WeightHalfBuffer { uint data[]; } weightHalfBuf;
layout(set = 0, binding = 1) readonly buffer WeightHalfVectors { uvec4 data[]; } weightHalfVectors;
layout(set = 0, binding = 2) readonly buffer BiasBuffer { float data[]; } biasBuf;
layout(set = 0, binding = 3) writeonly buffer OutBuffer { float data[]; } outBuf;

// 1 when the weights are stored as f16, 0 for f32 (as in linear.comp).
layout(constant_id = 2) const uint WEIGHT_F16 = 0u;
// The op: 0 linear, 1 linear + GEGLU, 2 conv2d, 3 temporal conv.
layout(constant_id = 4) const uint OP = 0u;
// Elements of each operand's K step one invocation stages: TILE_M * TILE_K / workgroup size.
layout(constant_id = 5) const uint LOADS = 16u;
// The cooperative matrices' shape, FM x FK times FK x FN, one the device offers (16x16x16 on
// NVIDIA and AMD, 8x8x8 on lavapipe); FM, FN and FK divide 32, FM * FN <= 256, and the
// subgroup size divides FM * FN.
layout(constant_id = 6) const uint FM = 16u;
layout(constant_id = 7) const uint FN = 16u;
layout(constant_id = 8) const uint FK = 16u;
// Elements of an FM x FN block each lane takes in the epilogue: FM * FN / subgroup size.
layout(constant_id = 9) const uint EPILOGUE = 8u;
// The convolutions' taps: conv2d's kernel height and width, the temporal conv's frames
// (KERNEL_H; KERNEL_W = 1). Equal to the push constants KH, KW (conv2d) and K (temporal).
layout(constant_id = 10) const uint KERNEL_H = 1u;
layout(constant_id = 11) const uint KERNEL_W = 1u;
// 1 when the linear ops read x four floats at a time: K % 4 == 0 (the buffers start 16-byte
// aligned). Not used by the convolutions.
layout(constant_id = 12) const uint VECTOR_A = 0u;
// 1 when weight rows are read eight values at a time: the reduction is a multiple of 8.
layout(constant_id = 13) const uint VECTOR_B = 0u;
const uint FRAGMENTS_M = 32u / FM; // fragments per subgroup block (32 x 64)
const uint FRAGMENTS_N = 64u / FN;

layout(push_constant) uniform Push { uint v[12]; } p;

const uint TILE_M = 128u;
const uint TILE_N = 128u;
const uint TILE_K = 32u;
const uint STRIDE = (TILE_K + 8u) / 4u; // shared row stride in f16vec4 (80 bytes: aligned, fewer conflicts)
const uint SUBGROUPS = 8u;
// Chunks of 4 consecutive k each invocation stages per K step, of A and of B.
const uint CHUNKS = LOADS / 4u;

shared f16vec4 aTile[TILE_M * STRIDE]; // [row][k / 4]
shared f16vec4 bTile[TILE_N * STRIDE]; // [column][k / 4]
shared float staging[SUBGROUPS * 256u]; // per subgroup: one FM x FN block

bool isConv() { return OP >= 2u; }
uint reduction() {
    if (OP == 2u) { return p.v[1] * p.v[5] * p.v[6]; }
    if (OP == 3u) { return p.v[1] * p.v[5]; }
    return p.v[2];
}
uint rows() {
    if (OP == 2u) { return p.v[0] * p.v[9] * p.v[10]; }
    if (OP == 3u) { return p.v[0] * p.v[7] * p.v[3]; }
    return p.v[0];
}
// Columns of B (weight rows): N for linear (2 * outputs for GEGLU), O for the convolutions.
uint projectionWidth() { return isConv() ? p.v[4] : p.v[1]; }
bool hasBias() {
    if (OP == 2u) { return p.v[11] != 0u; }
    if (OP == 3u) { return p.v[8] != 0u; }
    return p.v[3] != 0u;
}

// The projection column (weight row) behind tile column c of column tile `tile`, or ~0u.
uint projectionColumn(uint tile, uint c) {
    if (OP == 1u) {
        const uint outputs = p.v[1] / 2u;
        const uint column = tile * 64u + (c / 64u) * 32u + (c & 31u);
        if (column >= outputs) { return ~0u; }
        return column + ((c & 63u) >= 32u ? outputs : 0u);
    }
    const uint column = tile * TILE_N + c;
    return column < projectionWidth() ? column : ~0u;
}

float weightAt(uint i) {
    if (WEIGHT_F16 != 0u) {
        return unpackHalf2x16(weightHalfBuf.data[i >> 1u])[i & 1u];
    }
    return weightBuf.data[i];
}

// The convolutions' rows, decomposed once per workgroup (runtime divisions cost tens of
// instructions each; per element they would outweigh the matrix work): for tile row r,
// rowOffset = where its sample's input starts (conv2d: b*C*H*W; temporal: b*C*F*S + s), or ~0u
// past the last row; rowY / rowX = the input row / column (temporal: frame) of tap 0.
shared uint rowOffset[TILE_M];
shared int rowY[TILE_M];
shared int rowX[TILE_M];

void decomposeRows(uint rowBase) {
    for (uint r = gl_LocalInvocationID.x; r < TILE_M; r += gl_WorkGroupSize.x) {
        const uint m = rowBase + r;
        rowOffset[r] = ~0u;
        if (m >= rows()) { continue; }
        if (OP == 2u) {
            const uint pixels = p.v[9] * p.v[10];
            const uint b = m / pixels, pixel = m % pixels;
            rowOffset[r] = b * p.v[1] * p.v[2] * p.v[3];
            rowY[r] = int((pixel / p.v[10]) * p.v[7]) - int(p.v[8]);
            rowX[r] = int((pixel % p.v[10]) * p.v[7]) - int(p.v[8]);
        } else {
            const uint S = p.v[3], plane = p.v[7] * S;
            const uint b = m / plane, rest = m % plane;
            rowOffset[r] = b * p.v[1] * p.v[2] * S + rest % S;
            rowY[r] = int(rest / S) - int(p.v[6]);
        }
    }
}

// A staged in chunks of 4 consecutive k of one row, 1024 chunks per K step: chunk v is row
// v / 8, k 4 * (v % 8) for the linear ops (lanes along k: x rows are k-contiguous), and row
// v % 128, k 4 * (v / 128) for the convolutions (lanes along m: NCHW inputs are contiguous in
// the pixels). B (weights, k-contiguous rows) in chunks of 8 k when VECTOR_B (512 per step:
// column w / 4, k 8 * (w % 4)), else of 4 as A's linear chunks.
uint chunkRow(uint v) { return isConv() ? v % TILE_M : v / 8u; }
uint chunkK(uint v) { return isConv() ? v / TILE_M : v % 8u; }

// A[m][k ... k + 3] of a linear op, 0 outside the matrix.
f16vec4 linearChunk(uint m, uint k) {
    const uint K = p.v[2];
    if (m >= rows() || k >= K) { return f16vec4(0.0); }
    if (VECTOR_A != 0u) { return toHalf4(xVectors.data[(m * K + k) / 4u]); }
    f16vec4 h = f16vec4(0.0);
    [[unroll]] for (uint j = 0u; j < 4u; ++j) {
        if (k + j < K) { h[j] = toHalf(xBuf.data[m * K + k + j]); }
    }
    return h;
}

// A[tile row r][k ... k + 3] of a convolution, 0 outside the matrix and in the padding. k is
// split into channel and taps once per chunk (the taps are specialization constants, so the
// divisions are multiplications), then stepped.
f16vec4 convChunk(uint r, uint k) {
    const uint offset = rowOffset[r];
    const uint K = reduction();
    f16vec4 h = f16vec4(0.0);
    if (offset == ~0u || k >= K) { return h; }
    const int y0 = rowY[r];
    uint c = k / (KERNEL_H * KERNEL_W);
    const uint tap = k % (KERNEL_H * KERNEL_W);
    uint ky = tap / KERNEL_W, kx = tap % KERNEL_W;
    if (OP == 2u) {
        const int x0 = rowX[r];
        const uint H = p.v[2], W = p.v[3];
        [[unroll]] for (uint j = 0u; j < 4u; ++j) {
            const int iy = y0 + int(ky), ix = x0 + int(kx);
            if (k + j < K && uint(iy) < H && uint(ix) < W) {
                h[j] = toHalf(xBuf.data[offset + (c * H + uint(iy)) * W + uint(ix)]);
            }
            if (++kx == KERNEL_W) { kx = 0u; if (++ky == KERNEL_H) { ky = 0u; ++c; } }
        }
    } else { // temporal: ky is the frame tap (KERNEL_W == 1)
        const uint F = p.v[2], S = p.v[3];
        [[unroll]] for (uint j = 0u; j < 4u; ++j) {
            const int f = y0 + int(ky);
            if (k + j < K && uint(f) < F) { h[j] = toHalf(xBuf.data[offset + (c * F + uint(f)) * S]); }
            if (++ky == KERNEL_H) { ky = 0u; ++c; }
        }
    }
    return h;
}

// Loads K step k0 into registers as f16.
void loadStep(uint k0, uint rowBase, uint tile, out f16vec4 aNext[CHUNKS], out f16vec4 bNext[CHUNKS]) {
    const uint t = gl_LocalInvocationID.x;
    const uint threads = gl_WorkGroupSize.x;
    const uint K = reduction();
    [[unroll]] for (uint l = 0u; l < CHUNKS; ++l) {
        const uint v = t + threads * l;
        const uint k = k0 + 4u * chunkK(v);
        aNext[l] = isConv() ? convChunk(chunkRow(v), k) : linearChunk(rowBase + chunkRow(v), k);
    }
    if (VECTOR_B != 0u) {
        [[unroll]] for (uint l = 0u; l < CHUNKS / 2u; ++l) {
            const uint w = t + threads * l;
            const uint projection = projectionColumn(tile, w / 4u);
            const uint k = k0 + 8u * (w % 4u);
            f16vec4 low = f16vec4(0.0), high = f16vec4(0.0);
            if (projection != ~0u && k < K) {
                const uint first = projection * K + k; // a multiple of 8
                if (WEIGHT_F16 != 0u) {
                    const uvec4 bits = weightHalfVectors.data[first / 8u];
                    low = f16vec4(unpackFloat2x16(bits.x), unpackFloat2x16(bits.y));
                    high = f16vec4(unpackFloat2x16(bits.z), unpackFloat2x16(bits.w));
                } else {
                    low = toHalf4(weightVectors.data[first / 4u]);
                    high = toHalf4(weightVectors.data[first / 4u + 1u]);
                }
            }
            bNext[2u * l] = low;
            bNext[2u * l + 1u] = high;
        }
    } else {
        [[unroll]] for (uint l = 0u; l < CHUNKS; ++l) {
            const uint v = t + threads * l;
            const uint projection = projectionColumn(tile, v / 8u);
            const uint k = k0 + 4u * (v % 8u);
            f16vec4 h = f16vec4(0.0);
            [[unroll]] for (uint j = 0u; j < 4u; ++j) {
                if (projection != ~0u && k + j < K) { h[j] = toHalf(weightAt(projection * K + k + j)); }
            }
            bNext[l] = h;
        }
    }
}

void storeStep(f16vec4 aNext[CHUNKS], f16vec4 bNext[CHUNKS]) {
    const uint t = gl_LocalInvocationID.x;
    const uint threads = gl_WorkGroupSize.x;
    [[unroll]] for (uint l = 0u; l < CHUNKS; ++l) {
        const uint v = t + threads * l;
        aTile[chunkRow(v) * STRIDE + chunkK(v)] = aNext[l];
    }
    if (VECTOR_B != 0u) {
        [[unroll]] for (uint l = 0u; l < CHUNKS / 2u; ++l) {
            const uint w = t + threads * l;
            bTile[(w / 4u) * STRIDE + 2u * (w % 4u)] = bNext[2u * l];
            bTile[(w / 4u) * STRIDE + 2u * (w % 4u) + 1u] = bNext[2u * l + 1u];
        }
    } else {
        [[unroll]] for (uint l = 0u; l < CHUNKS; ++l) {
            const uint v = t + threads * l;
            bTile[(v / 8u) * STRIDE + v % 8u] = bNext[l];
        }
    }
}

// Where out element (m, projection column n) goes; ~0u when outside.
// The convolutions' output pixels (or frames x pixels) per sample and channel.
uint outputPlane() { return OP == 2u ? p.v[9] * p.v[10] : p.v[7] * p.v[3]; }

// Element e of an FM x FN block as (row, column): consecutive e go along m for NCHW outputs
// (their pixels are contiguous), along n for linear ones.
uvec2 blockElement(uint e) { return isConv() ? uvec2(e % FM, e / FM) : uvec2(e / FN, e % FN); }

uint outIndex(uint m, uint n) {
    if (m >= rows()) { return ~0u; }
    if (OP == 1u) { return m * (p.v[1] / 2u) + n; }
    if (OP == 0u) { return m * p.v[1] + n; }
    const uint plane = outputPlane();
    return ((m / plane) * p.v[4] + n) * plane + m % plane;
}

void main() {
    const uint subgroup = gl_SubgroupID;
    const uint lane = gl_SubgroupInvocationID;
    const uint tile = gl_WorkGroupID.x;
    const uint rowBase = gl_WorkGroupID.y * TILE_M;
    const uint subRow = (subgroup / 2u) * 32u;  // 4 subgroups down
    const uint subColumn = (subgroup % 2u) * 64u; // 2 across

    coopmat<float, gl_ScopeSubgroup, FM, FN, gl_MatrixUseAccumulator> acc[FRAGMENTS_M * FRAGMENTS_N];
    [[unroll]] for (uint f = 0u; f < FRAGMENTS_M * FRAGMENTS_N; ++f) {
        acc[f] = coopmat<float, gl_ScopeSubgroup, FM, FN, gl_MatrixUseAccumulator>(0.0);
    }

    if (isConv()) {
        decomposeRows(rowBase);
        barrier();
    }
    f16vec4 aNext[CHUNKS];
    f16vec4 bNext[CHUNKS];
    loadStep(0u, rowBase, tile, aNext, bNext);
    const uint steps = (reduction() + TILE_K - 1u) / TILE_K;
    for (uint step = 0u; step < steps; ++step) {
        storeStep(aNext, bNext);
        barrier();
        if (step + 1u < steps) {
            loadStep((step + 1u) * TILE_K, rowBase, tile, aNext, bNext);
        }
        [[unroll]] for (uint kk = 0u; kk < TILE_K; kk += FK) {
            coopmat<float16_t, gl_ScopeSubgroup, FM, FK, gl_MatrixUseA> a[FRAGMENTS_M];
            coopmat<float16_t, gl_ScopeSubgroup, FK, FN, gl_MatrixUseB> b[FRAGMENTS_N];
            [[unroll]] for (uint i = 0u; i < FRAGMENTS_M; ++i) {
                coopMatLoad(a[i], aTile, (subRow + FM * i) * STRIDE + kk / 4u, STRIDE,
                            gl_CooperativeMatrixLayoutRowMajor);
            }
            [[unroll]] for (uint j = 0u; j < FRAGMENTS_N; ++j) {
                // B[k][n] = bTile[n][k]: column-major with the columns STRIDE apart (offsets and
                // strides count the array's f16vec4 elements).
                coopMatLoad(b[j], bTile, (subColumn + FN * j) * STRIDE + kk / 4u, STRIDE,
                            gl_CooperativeMatrixLayoutColumnMajor);
            }
            [[unroll]] for (uint i = 0u; i < FRAGMENTS_M; ++i) {
                [[unroll]] for (uint j = 0u; j < FRAGMENTS_N; ++j) {
                    acc[i * FRAGMENTS_N + j] = coopMatMulAdd(a[i], b[j], acc[i * FRAGMENTS_N + j]);
                }
            }
        }
        barrier();
    }

    // Epilogue, one FM x FN block at a time through the subgroup's staging block: each lane
    // takes EPILOGUE of its elements. A block wholly inside the output (and, for the
    // convolutions, inside one sample) is stored with one address computed per block; others
    // element by element with their bounds. GEGLU stages the hidden block, keeps its values, then
    // stages the gate block (FRAGMENTS_N / 2 fragments to the right) and stores h * gelu(g).
    const uint base = subgroup * 256u;
    const uint plane = outputPlane();
    [[unroll]] for (uint i = 0u; i < FRAGMENTS_M; ++i) {
        [[unroll]] for (uint j = 0u; j < (OP == 1u ? FRAGMENTS_N / 2u : FRAGMENTS_N); ++j) {
            const uint m0 = rowBase + subRow + FM * i;
            const uint n0 = tile * TILE_N + subColumn + FN * j;
            // Uniform over the subgroup.
            const bool direct = OP != 1u && m0 + FM <= rows() && n0 + FN <= projectionWidth()
                && (!isConv() || m0 % plane + FM <= plane);
            coopMatStore(acc[i * FRAGMENTS_N + j], staging, base, FN, gl_CooperativeMatrixLayoutRowMajor);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            if (direct) {
                // Consecutive lanes take consecutive addresses: along n in a linear output's rows,
                // along m (pixels) in an NCHW output's channel planes.
                const uint first = isConv() ? ((m0 / plane) * p.v[4] + n0) * plane + m0 % plane : m0 * p.v[1] + n0;
                [[unroll]] for (uint q = 0u; q < EPILOGUE; ++q) {
                    const uvec2 rc = blockElement(lane + q * gl_SubgroupSize);
                    const uint r = rc.x, c = rc.y;
                    float value = staging[base + r * FN + c];
                    if (hasBias()) { value += biasBuf.data[n0 + c]; }
                    outBuf.data[first + (isConv() ? c * plane + r : r * p.v[1] + c)] = value;
                }
            } else {
                float values[EPILOGUE];
                [[unroll]] for (uint q = 0u; q < EPILOGUE; ++q) {
                    const uvec2 rc = blockElement(lane + q * gl_SubgroupSize);
                    const uint r = rc.x, c = rc.y;
                    values[q] = staging[base + r * FN + c];
                }
                if (OP == 1u) {
                    subgroupBarrier();
                    coopMatStore(acc[i * FRAGMENTS_N + j + FRAGMENTS_N / 2u], staging, base, FN,
                                 gl_CooperativeMatrixLayoutRowMajor);
                    subgroupMemoryBarrierShared();
                    subgroupBarrier();
                }
                [[unroll]] for (uint q = 0u; q < EPILOGUE; ++q) {
                    const uvec2 rc = blockElement(lane + q * gl_SubgroupSize);
                    const uint r = rc.x, c = rc.y;
                    const uint projection = projectionColumn(tile, subColumn + FN * j + c);
                    const uint index = outIndex(rowBase + subRow + FM * i + r, projection);
                    if (projection == ~0u || index == ~0u) { continue; }
                    float value = values[q];
                    if (hasBias()) { value += biasBuf.data[projection]; }
                    if (OP == 1u) {
                        float gate = staging[base + r * FN + c];
                        if (hasBias()) { gate += biasBuf.data[projection + p.v[1] / 2u]; }
                        value *= gelu_erf(gate);
                    }
                    outBuf.data[index] = value;
                }
            }
            subgroupBarrier();
        }
    }
}
