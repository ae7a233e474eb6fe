import Foundation

/// Where the current time comes from. Injected everywhere time matters so that tests can
/// move it (DESIGN.md: time comes from an injected clock).
public protocol TimeSource: Sendable {
    func now() -> Date
}

public struct SystemTimeSource: TimeSource {
    public init() {}
    public func now() -> Date { Date() }
}

/// A time source tests set by hand.
public final class ManualTimeSource: TimeSource, @unchecked Sendable {
    // Guarded by `lock`; tests may move time from several tasks.
    private let lock = NSLock()
    private var current: Date

    public init(_ start: Date) {
        current = start
    }

    public func now() -> Date {
        lock.withLock { current }
    }

    public func advance(by seconds: TimeInterval) {
        lock.withLock { current += seconds }
    }
}
