import Glibc
import Synchronization

/// Something the event loop notifies when its file descriptor is ready.
protocol EventLoopHandler: AnyObject {
    /// Called on the loop thread with the `epoll` event mask.
    func handleEvent(_ events: UInt32)
}

/// Something that batches its output: the loop flushes it once after each round of events and
/// queued work, so many small writes from many handler tasks leave in one `send`.
protocol EventLoopFlushable: AnyObject {
    /// Set by the loop; true while the object sits in the flush list.
    var isFlushScheduled: Bool { get set }
    /// Called on the loop thread.
    func flush()
}

/// One thread running an `epoll` (or `poll`) loop for many sockets, with queued work from other threads
/// (woken through an `eventfd` or a pipe) and timers (deadlines, connect timeouts).
///
/// Everything registered with the loop is confined to its thread; other threads only hand it
/// closures through ``execute(_:)``. That is why the class is `@unchecked Sendable`.
final class EventLoop: @unchecked Sendable {
    private struct Inbox {
        var work: [@Sendable () -> Void] = []
        /// Whether the eventfd has been written since the loop last drained the inbox.
        var wakePending = false
        var stopRequested = false
    }

    private let poller: Poller
    private let inbox = Mutex(Inbox())
    private let threadState = Mutex<(thread: pthread_t?, finished: Bool)>((nil, false))

    // Loop-thread state.
    private var handlers: [Int32: any EventLoopHandler] = [:]
    private var timers = TimerQueue()
    private var flushList: [any EventLoopFlushable] = []
    /// The loop thread's `pthread_t` (0 until it runs); atomic because any thread may ask.
    private let loopThreadID = Atomic<UInt>(0)
    /// One receive buffer shared by every connection of this loop: reads are synchronous and
    /// nghttp2 copies what it keeps, so one suffices.
    let readBuffer: UnsafeMutableRawBufferPointer

    /// Creates the loop and starts its thread.
    init(name: String) throws(RPCRuntimeError) {
        poller = try Poller()
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)

        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&thread, nil, runEventLoopThread, context)
        guard result == 0 else {
            Unmanaged<EventLoop>.fromOpaque(context).release()
            throw RPCRuntimeError(operation: "pthread_create(\(name))", reason: String(cString: strerror(result)))
        }
        threadState.withLock { $0.thread = thread }
    }

    deinit {
        readBuffer.deallocate()
    }

    /// Whether the caller runs on the loop thread.
    var inLoop: Bool {
        loopThreadID.load(ordering: .relaxed) == UInt(pthread_self())
    }

    /// Runs `work` on the loop thread, after the events being handled now.
    func execute(_ work: @escaping @Sendable () -> Void) {
        let mustWake = inbox.withLock { inbox -> Bool in
            inbox.work.append(work)
            if inbox.wakePending { return false }
            inbox.wakePending = true
            return true
        }
        if mustWake { poller.wake() }
    }

    /// Stops the loop after the work queued so far, and waits for the thread to end (unless
    /// called from the loop itself).
    func stop() {
        inbox.withLock { $0.stopRequested = true }
        poller.wake()
        guard !inLoop else { return }
        let thread = threadState.withLock { state -> pthread_t? in
            defer { state.thread = nil }
            return state.thread
        }
        if let thread { pthread_join(thread, nil) }
    }

    // MARK: Loop-thread API

    /// Watches a descriptor. Loop thread only.
    func register(_ fd: Int32, events: UInt32, handler: any EventLoopHandler) throws(RPCRuntimeError) {
        guard poller.add(fd, events: events) else {
            throw RPCRuntimeError(operation: "watch descriptor \(fd)", reason: Socket.errnoText())
        }
        handlers[fd] = handler
    }

    /// Changes the events watched for a descriptor. Loop thread only.
    func modify(_ fd: Int32, events: UInt32) {
        poller.modify(fd, events: events)
    }

    /// Stops watching a descriptor (the caller closes it). Loop thread only.
    func unregister(_ fd: Int32) {
        poller.remove(fd)
        handlers[fd] = nil
    }

    /// Runs `callback` on the loop at a monotonic time (nanoseconds, ``EventLoop/now()``).
    /// Loop thread only.
    func schedule(at deadline: UInt64, _ callback: @escaping () -> Void) -> TimerQueue.ID {
        timers.schedule(at: deadline, callback)
    }

    /// Cancels a timer; cancelling one that already ran does nothing. Loop thread only.
    func cancelTimer(_ id: TimerQueue.ID) {
        timers.cancel(id)
    }

    /// Flushes `target` at the end of this loop round. Loop thread only.
    func scheduleFlush(_ target: any EventLoopFlushable) {
        guard !target.isFlushScheduled else { return }
        target.isFlushScheduled = true
        flushList.append(target)
    }

    /// CLOCK_MONOTONIC in nanoseconds: the clock of every deadline in this module.
    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// A monotonic time `duration` from now, saturating.
    static func deadline(after duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 { return now() }
        let nanoseconds = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if nanoseconds.overflow { return UInt64.max }
        let total = UInt64(nanoseconds.partialValue) &+ UInt64(attoseconds / 1_000_000_000)
        let (sum, overflow) = now().addingReportingOverflow(total)
        return overflow ? UInt64.max : sum
    }

    // MARK: The loop

    fileprivate func run() {
        loopThreadID.store(UInt(pthread_self()), ordering: .relaxed)
        while true {
            let timeout = timers.timeoutMilliseconds(now: EventLoop.now())
            poller.wait(timeoutMilliseconds: timeout) { fd, events in
                handlers[fd]?.handleEvent(events)
            }
            let (work, stop) = inbox.withLock { inbox -> ([@Sendable () -> Void], Bool) in
                inbox.wakePending = false
                defer { inbox.work.removeAll(keepingCapacity: true) }
                return (inbox.work, inbox.stopRequested)
            }
            for item in work { item() }
            for callback in timers.popExpired(now: EventLoop.now()) { callback() }
            flushScheduled()
            if stop { break }
        }
        handlers.removeAll()
        timers = TimerQueue()
    }

    private func flushScheduled() {
        // Flushing can schedule more flushes (a stream closing); loop until quiet.
        while !flushList.isEmpty {
            let list = flushList
            flushList.removeAll(keepingCapacity: true)
            for target in list {
                target.isFlushScheduled = false
                target.flush()
            }
        }
    }
}

/// The loop thread's entry point: a plain C function, so it captures nothing (see
/// platform-notes: capturing closures crash the compiler as C callbacks).
private func runEventLoopThread(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let loop = Unmanaged<EventLoop>.fromOpaque(context!).takeRetainedValue()
    loop.run()
    return nil
}

extension EventLoop {
    private static let sharedClientLoop = Mutex<EventLoop?>(nil)

    /// The loop every ``RPCChannel`` of the process shares, started on first use. One thread
    /// serves all client connections, as one serves all of a server's.
    static func sharedClient() throws(RPCRuntimeError) -> EventLoop {
        try sharedClientLoop.withLock { (loop) throws(RPCRuntimeError) -> EventLoop in
            if let loop { return loop }
            let created = try EventLoop(name: "rpc-client")
            loop = created
            return created
        }
    }
}
