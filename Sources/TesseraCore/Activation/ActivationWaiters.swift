import Foundation
import TesseraStore

/// Long polls waiting for a request or activation to change: a continuation per waiter in a
/// dictionary (no thread, no task per waiter beyond its own timer), resumed the moment a
/// transition on this node commits, or when its time is up. A committed request is handed to
/// its waiters, so a thousand of them answer without a thousand store reads queued behind
/// the writes that woke them.
public actor ActivationWaiters {
    private var waiting: [String: [UUID: CheckedContinuation<ActivationRequestRecord?, Never>]] = [:]

    public init() {}

    /// Returns when `id` changes on this node (with the committed request, when it is one) or
    /// after `timeout` (nil), whichever is first.
    public func wait(for id: String, timeout: Duration) async -> ActivationRequestRecord? {
        let token = UUID()
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.resume(id, token)
        }
        let changed = await withCheckedContinuation { continuation in
            waiting[id, default: [:]][token] = continuation
        }
        timer.cancel()
        return changed
    }

    /// Wakes every waiter of `id`, handing over `request` when the change was to a request.
    public func changed(_ id: String, request: ActivationRequestRecord? = nil) {
        guard let waiters = waiting.removeValue(forKey: id) else { return }
        for continuation in waiters.values { continuation.resume(returning: request) }
    }

    private func resume(_ id: String, _ token: UUID) {
        guard let continuation = waiting[id]?.removeValue(forKey: token) else { return }
        if waiting[id]?.isEmpty == true { waiting[id] = nil }
        continuation.resume(returning: nil)
    }

    /// How many are waiting (for the benchmark and tests).
    public var count: Int { waiting.values.reduce(0) { $0 + $1.count } }
}
