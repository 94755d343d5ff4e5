#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import Tensor

/// Host memory for one tensor, 64-byte aligned, owned by this object.
///
/// Buffers of at least ``HostBufferPool/minimumPooledBytes`` come from and go back to
/// ``HostBufferPool/shared``, so the same few hundred megabytes serve every forward pass
/// instead of being mapped, page-faulted and unmapped again for each op.
///
/// `@unchecked Sendable`: the buffer is written only by the op that allocates it, before the
/// storage is wrapped in a ``Tensor`` and shared; afterwards it is read-only.
final class CPUStorage: TensorStorage, @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let elementCount: Int
    /// The buffer as allocated (its size class when pooled).
    private let allocation: HostBuffer

    /// Allocates uninitialised memory for `count` floats.
    init(count: Int) {
        elementCount = count
        allocation = HostBufferPool.shared.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride)
        pointer = allocation.base.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit {
        HostBufferPool.shared.release(allocation)
    }

    var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: elementCount)
    }
}

extension Tensor {
    /// The host elements of a CPU-backend tensor (read-only by convention).
    var cpu: UnsafeMutablePointer<Float> {
        guard let storage = storage as? CPUStorage else {
            preconditionFailure("tensor of shape \(shape) does not live on the CPU backend")
        }
        return storage.pointer
    }
}

// MARK: Buffer pool

/// A 64-byte aligned host allocation and the byte count it was made with.
struct HostBuffer: @unchecked Sendable {
    // @unchecked: the pointer is handed from one owner to the next (storage, pool, storage),
    // never used by two at once.
    /// Start of the allocation.
    let base: UnsafeMutableRawPointer
    /// Bytes allocated (a size class of the pool for pooled buffers).
    let byteCount: Int
}

/// Recycles large host buffers between tensors of the same size class.
///
/// glibc serves allocations above its mmap threshold (at most 32 MiB) with fresh `mmap`s and
/// returns them on `free`, so every large op output would be page-faulted in on first touch
/// (zeroing included), several times the cost of writing it. The pool keeps freed buffers
/// instead, in size classes an eighth of a power of two apart (at most 12.5% slack), and hands
/// them to the next request of the same class, already mapped.
///
/// What it keeps is bounded: the buffers in use plus those cached never exceed
/// ``footprintFactor`` times the largest amount ever in use at once (a miss that would exceed
/// it first frees cached buffers of the classes least recently used), and the cache alone
/// never exceeds ``cacheLimitBytes``. The slack above the peak is what lets every size class
/// keep its own high-water mark: with a bound of exactly the peak, a forward pass whose
/// tensors come in a dozen sizes would evict, at each miss, a buffer the next op needs.
/// A model run repeatedly thus settles at about its peak working set.
final class HostBufferPool: Sendable {
    /// Buffers below this go straight to `malloc`, whose own free lists serve them well.
    static let minimumPooledBytes = 64 << 10

    /// The pool all CPU storage uses.
    static let shared = HostBufferPool(cacheLimitBytes: defaultCacheLimit)

    /// The most bytes the pool keeps cached (a quarter of physical memory for the shared pool).
    let cacheLimitBytes: Int

    /// Buffers in use plus cached stay within this multiple of the peak in use.
    static let footprintFactor = 3

    private struct State: ~Copyable {
        /// Cached buffers by size class.
        var cached: [Int: [HostBuffer]] = [:]
        /// When each size class was last allocated from or released to (a counter of requests).
        var lastUse: [Int: Int] = [:]
        /// Requests so far.
        var clock = 0
        /// Bytes in `cached`.
        var cachedBytes = 0
        /// Bytes of pooled buffers currently handed out.
        var liveBytes = 0
        /// The largest `liveBytes` seen.
        var peakLiveBytes = 0
        /// Requests served from the cache, and those that had to allocate.
        var hits = 0, misses = 0
    }

    private let state = Mutex(State())

    /// A pool that caches at most `cacheLimitBytes` of free buffers.
    init(cacheLimitBytes: Int) {
        self.cacheLimitBytes = cacheLimitBytes
    }

    /// The size class a request of `byteCount` bytes is served from: `byteCount` rounded up to
    /// a multiple of an eighth of its leading power of two (a multiple of 64 in any case).
    static func sizeClass(_ byteCount: Int) -> Int {
        let bytes = max(byteCount, 1)
        let leadingBit = Int.bitWidth - 1 - bytes.leadingZeroBitCount
        let step = max(64, 1 << max(0, leadingBit - 3))
        return (bytes + step - 1) / step * step
    }

    /// A 64-byte aligned buffer of at least `byteCount` bytes, uninitialised.
    func allocate(byteCount: Int) -> HostBuffer {
        guard byteCount >= Self.minimumPooledBytes else {
            return HostBuffer(base: .allocate(byteCount: max(byteCount, 1), alignment: 64), byteCount: byteCount)
        }
        let size = Self.sizeClass(byteCount)
        var evicted: [HostBuffer] = []
        let reused: HostBuffer? = state.withLock { state in
            state.clock += 1
            state.lastUse[size] = state.clock
            state.liveBytes += size
            state.peakLiveBytes = max(state.peakLiveBytes, state.liveBytes)
            if let buffer = state.cached[size]?.popLast() {
                // Classes with no buffer leave the dictionary, so eviction never picks an empty one.
                if state.cached[size]?.isEmpty ?? false { state.cached[size] = nil }
                state.cachedBytes -= size
                state.hits += 1
                return buffer
            }
            state.misses += 1
            // Free cached buffers, least recently used classes first, until the footprint fits.
            let limit = Self.footprintFactor * state.peakLiveBytes
            while state.cachedBytes > 0, state.liveBytes + state.cachedBytes > limit {
                guard let stalest = state.cached.keys.min(by: { state.lastUse[$0, default: 0] < state.lastUse[$1, default: 0] }),
                      let buffer = state.cached[stalest]?.popLast() else { break }
                if state.cached[stalest]?.isEmpty ?? false { state.cached[stalest] = nil }
                state.cachedBytes -= stalest
                evicted.append(buffer)
            }
            return nil
        }
        // The system allocator runs outside the lock.
        for buffer in evicted { buffer.base.deallocate() }
        return reused ?? HostBuffer(base: .allocate(byteCount: size, alignment: 64), byteCount: size)
    }

    /// Takes back a buffer from ``allocate(byteCount:)``, keeping it for reuse when it fits.
    func release(_ buffer: HostBuffer) {
        guard buffer.byteCount >= Self.minimumPooledBytes else {
            buffer.base.deallocate()
            return
        }
        let kept = state.withLock { state in
            state.clock += 1
            state.lastUse[buffer.byteCount] = state.clock
            state.liveBytes -= buffer.byteCount
            guard state.cachedBytes + buffer.byteCount <= cacheLimitBytes else { return false }
            state.cached[buffer.byteCount, default: []].append(buffer)
            state.cachedBytes += buffer.byteCount
            return true
        }
        if !kept { buffer.base.deallocate() }
    }

    /// Frees every cached buffer (buffers in use are unaffected) and resets the peak to the
    /// bytes now in use.
    func trim() {
        let buffers: [HostBuffer] = state.withLock { state in
            let all = state.cached.values.flatMap { $0 }
            state.cached = [:]
            state.lastUse = [:]
            state.cachedBytes = 0
            state.peakLiveBytes = state.liveBytes
            return all
        }
        for buffer in buffers { buffer.base.deallocate() }
    }

    /// Bytes cached, bytes in use, the peak in use, and the hit and miss counts so far.
    var statistics: (cachedBytes: Int, liveBytes: Int, peakLiveBytes: Int, hits: Int, misses: Int) {
        state.withLock { ($0.cachedBytes, $0.liveBytes, $0.peakLiveBytes, $0.hits, $0.misses) }
    }

    /// A quarter of physical memory (1 GiB where it cannot be read).
    private static var defaultCacheLimit: Int {
        #if canImport(Glibc)
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        if pages > 0, pageSize > 0 { return pages * pageSize / 4 }
        #endif
        return 1 << 30
    }
}
