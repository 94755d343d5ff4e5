@testable import CPUBackend
import Testing

// The CPU backend's pool of large host buffers: size classes, reuse, and the bounds on what it
// keeps (never more than the peak in use, never more cache than its limit). Each test uses a
// pool of its own, so the numbers are exact.

@Suite("Host buffer pool")
struct HostBufferPoolTests {
    let mebibyte = 1 << 20

    @Test func sizeClassesAreAnEighthOfAPowerOfTwoApart() {
        #expect(HostBufferPool.sizeClass(1) == 64)
        #expect(HostBufferPool.sizeClass(100) == 128)
        #expect(HostBufferPool.sizeClass(65_536) == 65_536)
        #expect(HostBufferPool.sizeClass(65_537) == 65_536 + 8_192)
        #expect(HostBufferPool.sizeClass(32 << 20) == 32 << 20)
        #expect(HostBufferPool.sizeClass((32 << 20) + 1) == 36 << 20)
        for bytes in [70_000, 1_000_000, 123_456_789] {
            let size = HostBufferPool.sizeClass(bytes)
            #expect(size >= bytes && Double(size) <= Double(bytes) * 1.125 + 64 && size % 64 == 0)
        }
    }

    @Test func freedBufferIsReusedForTheSameClass() {
        let pool = HostBufferPool(cacheLimitBytes: 64 * mebibyte)
        let first = pool.allocate(byteCount: 3 * mebibyte)
        #expect(Int(bitPattern: first.base) % 64 == 0)
        pool.release(first)
        let second = pool.allocate(byteCount: 3 * mebibyte - 100)
        #expect(second.base == first.base)
        let stats = pool.statistics
        #expect(stats.hits == 1 && stats.misses == 1 && stats.cachedBytes == 0 && stats.liveBytes == 3 * mebibyte)
        pool.release(second)
        pool.trim()
        #expect(pool.statistics.cachedBytes == 0)
    }

    @Test func footprintStaysWithinItsMultipleOfThePeakInUse() {
        #expect(HostBufferPool.footprintFactor == 3, "the numbers below assume a footprint of 3x the peak")
        let pool = HostBufferPool(cacheLimitBytes: 64 * mebibyte)
        let quarter = mebibyte / 4
        // Peak in use: 2 MiB, so buffers in use plus cached may reach 6 MiB.
        let first = pool.allocate(byteCount: mebibyte), second = pool.allocate(byteCount: mebibyte)
        pool.release(first)
        pool.release(second)
        pool.release(pool.allocate(byteCount: 5 * quarter))
        pool.release(pool.allocate(byteCount: 6 * quarter))
        #expect(pool.statistics.cachedBytes == 19 * quarter && pool.statistics.peakLiveBytes == 2 * mebibyte)
        // A 1.75 MiB miss would make 6.5 MiB: one buffer of the least recently used class (1 MiB) goes.
        let other = pool.allocate(byteCount: 7 * quarter)
        var stats = pool.statistics
        #expect(stats.cachedBytes == 15 * quarter && stats.liveBytes == 7 * quarter && stats.misses == 5)
        #expect(stats.cachedBytes + stats.liveBytes <= HostBufferPool.footprintFactor * stats.peakLiveBytes)
        // What is left still serves its classes.
        let reused = [5, 4, 6].map { pool.allocate(byteCount: $0 * quarter) }
        stats = pool.statistics
        #expect(stats.hits == 3 && stats.cachedBytes == 0)
        for buffer in reused + [other] { pool.release(buffer) }
        pool.trim()
        #expect(pool.statistics.cachedBytes == 0 && pool.statistics.peakLiveBytes == 0)
    }

    @Test func cacheStaysUnderItsLimit() {
        let pool = HostBufferPool(cacheLimitBytes: 3 * mebibyte)
        let buffers = (0 ..< 3).map { _ in pool.allocate(byteCount: 2 * mebibyte) }
        for buffer in buffers { pool.release(buffer) }
        #expect(pool.statistics.cachedBytes == 2 * mebibyte && pool.statistics.liveBytes == 0)
        pool.trim()
    }

    @Test func smallBuffersBypassThePool() {
        let pool = HostBufferPool(cacheLimitBytes: 64 * mebibyte)
        let buffer = pool.allocate(byteCount: 1000)
        #expect(buffer.byteCount == 1000 && Int(bitPattern: buffer.base) % 64 == 0)
        pool.release(buffer)
        let stats = pool.statistics
        #expect(stats.hits == 0 && stats.misses == 0 && stats.cachedBytes == 0)
    }
}
