import ServiceLifecycle
import TesseraCore
import UnixSignals

/// Reloads the policy bundle on SIGHUP and when a file of the policies folder changes
/// (polled: inotify is not portable, and a stat of a few files every two seconds is cheap).
struct PolicyReloadService: Service {
    let reloader: PolicyReloader
    /// Zero: reload on SIGHUP only.
    let pollInterval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sighup) {
                        await reloader.reload(trigger: "SIGHUP")
                    }
                }
                if pollInterval > .zero {
                    group.addTask {
                        while (try? await Task.sleep(for: pollInterval)) != nil {
                            await reloader.reloadIfChanged()
                        }
                    }
                }
            }
        }
    }
}
