import Foundation

/// A private temporary folder for keys, policies and data; the benchmark removes it at the end
/// so no key material outlives the run.
struct Workspace {
    let path: String

    init() throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("tessera-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
    }

    /// A path inside the workspace; the folder itself is created by whoever writes there.
    func path(_ name: String) -> String {
        (path as NSString).appendingPathComponent(name)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
