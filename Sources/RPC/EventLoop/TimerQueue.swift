/// Timers of one event loop: a binary min-heap of deadlines with lazy cancellation.
struct TimerQueue {
    /// Identifies a scheduled timer.
    typealias ID = UInt64

    private var heap: [(deadline: UInt64, id: ID)] = []
    private var callbacks: [ID: () -> Void] = [:]
    private var nextID: ID = 1

    mutating func schedule(at deadline: UInt64, _ callback: @escaping () -> Void) -> ID {
        let id = nextID
        nextID += 1
        callbacks[id] = callback
        heap.append((deadline, id))
        siftUp(heap.count - 1)
        return id
    }

    mutating func cancel(_ id: ID) {
        callbacks[id] = nil
        if callbacks.isEmpty { heap.removeAll(keepingCapacity: true) }
    }

    /// The `epoll_wait` timeout until the next live timer: -1 for none, rounded up so a timer
    /// never fires early.
    mutating func timeoutMilliseconds(now: UInt64) -> Int32 {
        while let top = heap.first, callbacks[top.id] == nil { popTop() }
        guard let top = heap.first else { return -1 }
        if top.deadline <= now { return 0 }
        let milliseconds = (top.deadline - now + 999_999) / 1_000_000
        return Int32(min(milliseconds, UInt64(Int32.max)))
    }

    /// Removes and returns the callbacks whose deadline has passed, earliest first.
    mutating func popExpired(now: UInt64) -> [() -> Void] {
        var due: [() -> Void] = []
        while let top = heap.first, top.deadline <= now {
            popTop()
            if let callback = callbacks.removeValue(forKey: top.id) { due.append(callback) }
        }
        return due
    }

    private mutating func popTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(0)
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        heap[a].deadline < heap[b].deadline || (heap[a].deadline == heap[b].deadline && heap[a].id < heap[b].id)
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && less(left, smallest) { smallest = left }
            if right < heap.count && less(right, smallest) { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
