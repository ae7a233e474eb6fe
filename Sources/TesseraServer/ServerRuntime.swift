import Foundation
import NIOCore
import NIOPosix

/// How a server process runs its asynchronous work: on NIO's event loops, one per core the
/// process may use.
///
/// By default Swift concurrency has its own thread pool, so every request hops from the event
/// loop that read its bytes to a pool thread (the handler), to the audit log, to SQLite's
/// thread and back: a context switch and a wake-up each time, which a profile of the token
/// endpoint showed as the largest single cost. With NIO's event loops as the global executor,
/// a request's work stays on the loop that holds its connection, and only the store's blocking
/// calls leave it.
public enum ServerRuntime {
    /// Call first in `main`, on the main thread, before any task runs and before anything uses
    /// NIO's singletons; once per process.
    public static func prepare() {
        // NIO counts the machine's cores (and cgroup quotas), not the ones `taskset` or a cpuset
        // leave to this process: a server confined to one core would run two loops on it.
        if let cores = coresAvailable() {
            NIOSingletons.groupLoopCountSuggestion = cores
        }
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// How many cores this process may run on (its CPU affinity, as `/proc/self/status` lists
    /// it: `Cpus_allowed_list: 0-3,6`), nil when unknown. (Glibc's `sched_getaffinity` is not
    /// visible to Swift without `_GNU_SOURCE`.)
    static func coresAvailable() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        else { return nil }
        return coreCount(list: line.dropFirst("Cpus_allowed_list:".count))
    }

    /// The number of cores in a Linux CPU list (`0-3,6`), nil when it is malformed or empty.
    static func coreCount(list: Substring) -> Int? {
        var count = 0
        for range in list.split(separator: ",") {
            let bounds = range.split(separator: "-", omittingEmptySubsequences: false)
                .map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch bounds.count {
            case 1:
                guard bounds[0] != nil else { return nil }
                count += 1
            case 2:
                guard let low = bounds[0], let high = bounds[1], low <= high else { return nil }
                count += high - low + 1
            default:
                return nil
            }
        }
        return count > 0 ? count : nil
    }
}
