import Glibc
#if canImport(CEpoll)
import CEpoll
#endif

/// Readiness events, with the values `epoll` and `poll` share (`EPOLLIN == POLLIN`, ...).
enum IOEvents {
    static let read: UInt32 = 0x001
    static let write: UInt32 = 0x004
    static let error: UInt32 = 0x008
    static let hangup: UInt32 = 0x010
}

/// The readiness mechanism under the event loop, plus the descriptor that wakes it from other
/// threads: `epoll` + `eventfd` when the `CEpoll` shim is available, `poll` + a pipe otherwise
/// (Swift's Glibc module map has neither epoll nor eventfd).
final class Poller {
    /// Written by ``wake()`` from any thread.
    private let wakeWriteFD: Int32
    private let wakeReadFD: Int32
    #if canImport(CEpoll)
    private let epollFD: Int32
    private let events: UnsafeMutablePointer<epoll_event>
    private let capacity = 256
    #else
    private var pollFDs: [pollfd] = []
    private var slots: [Int32: Int] = [:]
    #endif

    init() throws(RPCRuntimeError) {
        #if canImport(CEpoll)
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw RPCRuntimeError(operation: "epoll_create1", reason: Socket.errnoText()) }
        let fd = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        guard fd >= 0 else {
            close(epollFD)
            throw RPCRuntimeError(operation: "eventfd", reason: Socket.errnoText())
        }
        wakeReadFD = fd
        wakeWriteFD = fd
        events = .allocate(capacity: capacity)
        #else
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw RPCRuntimeError(operation: "pipe", reason: Socket.errnoText())
        }
        // pipe2 is hidden behind _GNU_SOURCE in Swift's Glibc module: set the flags here.
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeReadFD = fds[0]
        wakeWriteFD = fds[1]
        #endif
        add(wakeReadFD, events: IOEvents.read)
    }

    deinit {
        #if canImport(CEpoll)
        close(epollFD)
        events.deallocate()
        #else
        close(wakeWriteFD)
        #endif
        close(wakeReadFD)
    }

    /// Interrupts a ``wait(timeoutMilliseconds:_:)`` in progress or the next one. Any thread.
    func wake() {
        #if canImport(CEpoll)
        var one: UInt64 = 1
        _ = write(wakeWriteFD, &one, 8)
        #else
        var one: UInt8 = 1
        _ = write(wakeWriteFD, &one, 1)
        #endif
    }

    /// Watches a descriptor. Returns false (with errno set) if the kernel refused.
    @discardableResult
    func add(_ fd: Int32, events mask: UInt32) -> Bool {
        #if canImport(CEpoll)
        var event = epoll_event()
        event.events = mask
        event.data.fd = fd
        return epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0
        #else
        slots[fd] = pollFDs.count
        pollFDs.append(pollfd(fd: fd, events: Int16(truncatingIfNeeded: mask), revents: 0))
        return true
        #endif
    }

    /// Changes the events watched for a descriptor.
    func modify(_ fd: Int32, events mask: UInt32) {
        #if canImport(CEpoll)
        var event = epoll_event()
        event.events = mask
        event.data.fd = fd
        epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
        #else
        if let slot = slots[fd] { pollFDs[slot].events = Int16(truncatingIfNeeded: mask) }
        #endif
    }

    /// Stops watching a descriptor.
    func remove(_ fd: Int32) {
        #if canImport(CEpoll)
        epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
        #else
        guard let slot = slots.removeValue(forKey: fd) else { return }
        let last = pollFDs.removeLast()
        if slot < pollFDs.count {
            pollFDs[slot] = last
            slots[last.fd] = slot
        }
        #endif
    }

    /// Waits for readiness (or a wake, or the timeout; -1 waits forever) and reports each ready
    /// descriptor other than the wake descriptor.
    func wait(timeoutMilliseconds: Int32, _ ready: (Int32, UInt32) -> Void) {
        #if canImport(CEpoll)
        let count = epoll_wait(epollFD, events, Int32(capacity), timeoutMilliseconds)
        guard count > 0 else { return }
        for index in 0..<Int(count) {
            let fd = events[index].data.fd
            let mask = events[index].events
            if fd == wakeReadFD { drainWake() } else { ready(fd, mask) }
        }
        #else
        let count = pollFDs.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeoutMilliseconds) }
        guard count > 0 else { return }
        // Snapshot: handlers may add or remove descriptors while we report.
        let ready_ = pollFDs.filter { $0.revents != 0 }
        for entry in ready_ {
            if entry.fd == wakeReadFD { drainWake() } else { ready(entry.fd, UInt32(UInt16(bitPattern: entry.revents))) }
        }
        #endif
    }

    private func drainWake() {
        var buffer: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        _ = withUnsafeMutableBytes(of: &buffer) { read(wakeReadFD, $0.baseAddress, $0.count) }
    }
}
