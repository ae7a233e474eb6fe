import Synchronization

/// A value that a policy reload replaces while requests read it: every read sees one whole
/// version, old or new, never a mix.
public final class CurrentValue<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    public init(_ value: Value) {
        storage = Mutex(value)
    }

    public var value: Value { storage.withLock { $0 } }

    public func replace(with value: Value) {
        storage.withLock { $0 = value }
    }
}
