import Foundation

/// Long polls waiting for a request or activation to change: a continuation per waiter in a
/// dictionary (no thread, no task per waiter beyond its own timer), resumed the moment a
/// transition on this node commits, or when its time is up.
public actor ActivationWaiters {
    private var waiting: [String: [UUID: CheckedContinuation<Void, Never>]] = [:]

    public init() {}

    /// Returns when `id` changes on this node or after `timeout`, whichever is first.
    public func wait(for id: String, timeout: Duration) async {
        let token = UUID()
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.resume(id, token)
        }
        await withCheckedContinuation { continuation in
            waiting[id, default: [:]][token] = continuation
        }
        timer.cancel()
    }

    /// Wakes every waiter of `id`.
    public func changed(_ id: String) {
        guard let waiters = waiting.removeValue(forKey: id) else { return }
        for continuation in waiters.values { continuation.resume() }
    }

    private func resume(_ id: String, _ token: UUID) {
        guard let continuation = waiting[id]?.removeValue(forKey: token) else { return }
        if waiting[id]?.isEmpty == true { waiting[id] = nil }
        continuation.resume()
    }

    /// How many are waiting (for the benchmark and tests).
    public var count: Int { waiting.values.reduce(0) { $0 + $1.count } }
}
