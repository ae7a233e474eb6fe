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
/// cancelled, to end when it can.
public enum StoreDeadline {
    public static func run<T: Sendable>(_ timeout: Duration, _ operation: String,
                                        _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let waiter = Waiter<T>()
        return try await withCheckedThrowingContinuation { continuation in
            waiter.hold(continuation)
            let work = Task {
                do {
                    waiter.finish(.success(try await body()))
                } catch {
                    waiter.finish(.failure(error))
                }
            }
            Task {
                try? await Task.sleep(for: timeout)
                if waiter.finish(.failure(StoreTimeout(operation: operation, timeout: timeout))) { work.cancel() }
            }
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
    /// comes first.
    private final class Waiter<T: Sendable>: Sendable {
        private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

        func hold(_ waiting: CheckedContinuation<T, any Error>) {
            continuation.withLock { $0 = waiting }
        }

        /// Resumes the caller; false when it was resumed already.
        @discardableResult
        func finish(_ result: Result<T, any Error>) -> Bool {
            guard let waiting = continuation.withLock({ taken -> CheckedContinuation<T, any Error>? in
                defer { taken = nil }
                return taken
            }) else { return false }
            waiting.resume(with: result)
            return true
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
