import Prometheus
import Synchronization

/// The metrics a registry already made, by name and label values. `makeCounter` and its kin
/// validate the name, help text and labels and look the family up on every call: a tenth of a
/// JWKS request's CPU when done per request. A dictionary lookup here replaces them after the
/// first time; each family is still created by the registry, once.
final class MetricMemo<Metric: AnyObject & Sendable>: Sendable {
    struct Key: Hashable, Sendable {
        let name: String
        let labelValues: [String]
    }

    private let made = Mutex<[Key: Metric]>([:])

    /// The metric made for `name` and `labels`, made by `make` the first time.
    func metric(_ name: String, _ labels: [(String, String)], make: () -> Metric) -> Metric {
        let key = Key(name: name, labelValues: labels.map(\.1))
        if let metric = made.withLock({ $0[key] }) { return metric }
        let metric = make()
        made.withLock { $0[key] = metric }
        return metric
    }
}
