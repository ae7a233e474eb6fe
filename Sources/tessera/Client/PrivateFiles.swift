import Foundation

/// Files only their owner may read: the token cache and the sign-in session. Folders 0700,
/// files 0600, written to a temporary file and renamed so a reader never sees half of one, and
/// a lock file per entry so parallel invocations (kubectl runs the credential plugin for every
/// call) wait for one another instead of each asking the server or the provider.
enum PrivateFiles {
    static func prepare(_ directory: String) throws(ClientFailure) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
        } catch {
            throw ClientFailure(.failure, "cannot create \(directory): \(error.localizedDescription)")
        }
    }

    static func write(_ data: Data, to path: String) throws(ClientFailure) {
        let directory = (path as NSString).deletingLastPathComponent
        try prepare(directory)
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]),
              rename(temporary, path) == 0
        else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw ClientFailure(.failure, "cannot write \(path)")
        }
    }

    /// Holds an exclusive lock on `path + ".lock"` until `body` returns.
    static func locked<T>(_ path: String, _ body: () async throws(ClientFailure) -> T) async throws(ClientFailure) -> T {
        try prepare((path as NSString).deletingLastPathComponent)
        let descriptor = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ClientFailure(.failure, "cannot lock \(path)") }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else { throw ClientFailure(.failure, "cannot lock \(path)") }
        defer { flock(descriptor, LOCK_UN) }
        return try await body()
    }
}
