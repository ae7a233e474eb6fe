import Synchronization

/// A store operation that did not answer within its deadline: the database is away or stuck.
/// The operation may still finish later (an audit entry may still commit), but its caller has
/// moved on and answered `503`; nothing waits on it.
public struct StoreTimeout: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let timeout: Duration
    public var description: String { "the store did not answer \(operation) within \(timeout)" }
}

/// Bounds a store operation in time, whatever it waits on. The operation runs in a task of its
/// own, so one that ignores cancellation (a query on a connection that no longer answers)
/// cannot hold the caller: at the deadline the caller gets `StoreTimeout` and the task is
/// cancelled, to end when it can. The deadlines of all operations share one timer
/// (`DeadlineWatch`): a sleeping task per operation kept one timer for the whole timeout
/// after every token exchange's activation read (ten thousand at a time under load, each
/// firing seconds later for nothing), about 5% of an exchange's CPU.
public enum StoreDeadline {
    public static func run<T: Sendable>(_ timeout: Duration, _ operation: String,
                                        _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await run(timeout, operation, watch: .shared, body)
    }

    /// `run` with the deadline on `watch` (the tests' own).
    static func run<T: Sendable>(_ timeout: Duration, _ operation: String, watch: DeadlineWatch,
                                 _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let waiter = Waiter<T>()
        return try await withCheckedThrowingContinuation { continuation in
            waiter.hold(continuation)
            let deadline = watch.add(ContinuousClock.now + timeout) {
                if waiter.finish(.failure(StoreTimeout(operation: operation, timeout: timeout))) { waiter.cancelWork() }
            }
            waiter.hold(Task {
                do {
                    waiter.finish(.success(try await body()))
                } catch {
                    waiter.finish(.failure(error))
                }
                watch.remove(deadline)
            })
        }
    }

    /// `run` for a request's store operation: a store that fails, or does not answer within
    /// `timeout`, is `503 temporarily_unavailable` (with `Retry-After`), never an answer made up
    /// without the store.
    public static func request<T: Sendable>(_ timeout: Duration, _ operation: String,
                                            _ body: @escaping @Sendable () async throws -> T) async throws(OAuthError) -> T {
        do {
            return try await run(timeout, operation, body)
        } catch let error as StoreTimeout {
            throw OAuthError(.temporarilyUnavailable, "\(error); try again", status: 503)
        } catch {
            throw OAuthError(.temporarilyUnavailable, "the store failed while \(operation); try again", status: 503)
        }
    }

    /// The caller's continuation, resumed once: by the operation or by the deadline, whichever
    /// comes first; and the operation's task, cancelled if the deadline comes first.
    private final class Waiter<T: Sendable>: Sendable {
        private struct State {
            var continuation: CheckedContinuation<T, any Error>?
            var work: Task<Void, Never>?
            var expired = false
        }
        private let state = Mutex(State())

        func hold(_ waiting: CheckedContinuation<T, any Error>) {
            state.withLock { $0.continuation = waiting }
        }

        func hold(_ work: Task<Void, Never>) {
            let expired = state.withLock { state in
                state.work = work
                return state.expired
            }
            if expired { work.cancel() }
        }

        /// Resumes the caller; false when it was resumed already.
        @discardableResult
        func finish(_ result: Result<T, any Error>) -> Bool {
            guard let waiting = state.withLock({ state -> CheckedContinuation<T, any Error>? in
                defer { state.continuation = nil }
                return state.continuation
            }) else { return false }
            waiting.resume(with: result)
            return true
        }

        func cancelWork() {
            let work = state.withLock { state in
                state.expired = true
                return state.work
            }
            work?.cancel()
        }
    }
}

/// Many deadlines on one timer: a task that sleeps until the earliest one, calls what is due,
/// and ends when none is left. A deadline removed before it comes (nearly all of them: the
/// operation answered) costs a dictionary entry, not a timer.
final class DeadlineWatch: Sendable {
    static let shared = DeadlineWatch()

    private struct Entry {
        let deadline: ContinuousClock.Instant
        let expire: @Sendable () -> Void
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var nextID: UInt64 = 0
        /// The watching task's number and the deadline it sleeps until; nil when none runs.
        var watcher: (generation: UInt64, until: ContinuousClock.Instant)?
        var generation: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Deadlines added and not yet come or removed.
    var count: Int { state.withLock { $0.entries.count } }

    /// Calls `expire` at `deadline` unless `remove` comes first; returns the handle for `remove`.
    func add(_ deadline: ContinuousClock.Instant, expire: @escaping @Sendable () -> Void) -> UInt64 {
        let (id, start) = state.withLock { state -> (UInt64, UInt64?) in
            state.nextID &+= 1
            state.entries[state.nextID] = Entry(deadline: deadline, expire: expire)
            // A watcher sleeping past this deadline is replaced by one that wakes for it.
            if let watcher = state.watcher, watcher.until <= deadline { return (state.nextID, nil) }
            state.generation &+= 1
            state.watcher = (state.generation, deadline)
            return (state.nextID, state.generation)
        }
        if let start { Task { await self.watch(generation: start) } }
        return id
    }

    func remove(_ id: UInt64) {
        _ = state.withLock { $0.entries.removeValue(forKey: id) }
    }

    private func watch(generation: UInt64) async {
        while true {
            let until = state.withLock { state -> ContinuousClock.Instant? in
                guard state.watcher?.generation == generation else { return nil }
                guard let earliest = state.entries.values.map(\.deadline).min() else {
                    state.watcher = nil
                    return nil
                }
                state.watcher = (generation, earliest)
                return earliest
            }
            guard let until else { return }
            try? await Task.sleep(until: until, clock: .continuous)
            let now = ContinuousClock.now
            let due = state.withLock { state -> [Entry] in
                guard state.watcher?.generation == generation else { return [] }
                let due = state.entries.filter { $0.value.deadline <= now }
                for id in due.keys { state.entries.removeValue(forKey: id) }
                return Array(due.values)
            }
            for entry in due { entry.expire() }
        }
    }
}

/// A condition that is said once when it starts and once when it ends, however often it is
/// seen in between (a store outage seen by every request).
public final class OutageFlag: Sendable {
    private let failing = Mutex(false)

    public init() {}

    public var isSet: Bool { failing.withLock { $0 } }

    /// Sets the flag; returns whether it changed.
    public func set(_ value: Bool) -> Bool {
        failing.withLock { current in
            defer { current = value }
            return current != value
        }
    }
}
