import Synchronization

/// Messages the loop has received on one stream and a task has not yet taken, shared between
/// the loop thread and the reading task.
///
/// Above ``highWaterBytes`` the loop withholds flow-control credit (no WINDOW_UPDATE), so a
/// slow reader slows its peer instead of growing this queue; taking messages below
/// ``lowWaterBytes`` hands the credit back through `releaseCredit`.
final class InboundMessageBuffer: Sendable {
    private struct State {
        var messages: [[UInt8]] = []
        var head = 0
        var bufferedBytes = 0
        /// Success carries trailing metadata (client) or nothing (server).
        var end: Result<Metadata, RPCError>?
        var initialMetadata: Metadata?
        var waiter: CheckedContinuation<[UInt8]?, any Error>?
        var creditWithheld = false
    }

    let highWaterBytes: Int
    let lowWaterBytes: Int
    private let state = Mutex(State())
    /// Posts "the reader caught up: return the withheld credit" to the loop.
    private let releaseCredit: @Sendable () -> Void

    init(highWaterBytes: Int = 4 << 20, releaseCredit: @escaping @Sendable () -> Void) {
        self.highWaterBytes = highWaterBytes
        self.lowWaterBytes = highWaterBytes / 2
        self.releaseCredit = releaseCredit
    }

    // MARK: Loop side

    /// Delivers a message to the reader.
    func push(_ message: [UInt8]) {
        let waiter = state.withLock { state -> CheckedContinuation<[UInt8]?, any Error>? in
            guard state.end == nil else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.messages.append(message)
            state.bufferedBytes += message.count
            return nil
        }
        waiter?.resume(returning: message)
    }

    /// Ends the message sequence; later ends are ignored. The reader still gets the messages
    /// already queued, then nil (success) or the error.
    func finish(_ end: Result<Metadata, RPCError>) {
        let waiter = state.withLock { state -> CheckedContinuation<[UInt8]?, any Error>? in
            guard state.end == nil else { return nil }
            state.end = end
            defer { state.waiter = nil }
            return state.waiter
        }
        guard let waiter else { return }
        switch end {
        case .success: waiter.resume(returning: nil)
        case .failure(let error): waiter.resume(throwing: error)
        }
    }

    /// Records the response's initial metadata (client side).
    func setInitialMetadata(_ metadata: Metadata) {
        state.withLock { $0.initialMetadata = metadata }
    }

    /// Whether the loop should withhold the credit for `bytes` just received (the reader is
    /// behind). Marks the credit as withheld so the reader knows to release it.
    func shouldWithholdCredit() -> Bool {
        state.withLock { state in
            guard state.bufferedBytes > highWaterBytes else { return false }
            state.creditWithheld = true
            return true
        }
    }

    // MARK: Reader side

    /// The next message; nil at a successful end; throws the call's error otherwise.
    func next() async throws(RPCError) -> [UInt8]? {
        enum Immediate { case message([UInt8], release: Bool), end(Result<Metadata, RPCError>), wait }
        let immediate = state.withLock { state -> Immediate in
            if state.head < state.messages.count {
                let message = state.messages[state.head]
                state.messages[state.head] = []
                state.head += 1
                state.bufferedBytes -= message.count
                if state.head == state.messages.count {
                    state.messages.removeAll(keepingCapacity: true)
                    state.head = 0
                } else if state.head >= 64 {
                    state.messages.removeFirst(state.head)
                    state.head = 0
                }
                var release = false
                if state.creditWithheld && state.bufferedBytes <= lowWaterBytes {
                    state.creditWithheld = false
                    release = true
                }
                return .message(message, release: release)
            }
            if let end = state.end { return .end(end) }
            return .wait
        }
        switch immediate {
        case .message(let message, let release):
            if release { releaseCredit() }
            return message
        case .end(.success):
            return nil
        case .end(.failure(let error)):
            throw error
        case .wait:
            break
        }
        do {
            return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, any Error>) in
                let now = state.withLock { state -> Result<[UInt8]?, RPCError>? in
                    if state.head < state.messages.count {
                        let message = state.messages[state.head]
                        state.messages[state.head] = []
                        state.head += 1
                        state.bufferedBytes -= message.count
                        return .success(message)
                    }
                    switch state.end {
                    case .success?: return .success(nil)
                    case .failure(let error)?: return .failure(error)
                    case nil:
                        state.waiter = continuation
                        return nil
                    }
                }
                if let now { continuation.resume(with: now) }
            }
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(code: .internalError, message: "unexpected error \(error)")
        }
    }

    /// The initial metadata and, after a successful end, the trailing metadata.
    var metadata: (initial: Metadata?, trailing: Metadata?) {
        state.withLock { state in
            if case .success(let trailing)? = state.end { return (state.initialMetadata, trailing) }
            if case .failure(let error)? = state.end { return (state.initialMetadata, error.metadata) }
            return (state.initialMetadata, nil)
        }
    }
}
