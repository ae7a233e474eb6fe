import Foundation

/// A program the peers' setup runs to completion (apt-get, openssl, sqlite3, gzip): unlike a
/// `ChildProcess` it is not a server, so it is waited for, and a non-zero exit fails the run with
/// what it printed.
enum SetupCommand {
    /// Runs `executable` and returns what it printed (standard output and error, in a log file of
    /// the workspace named after `name`, so nothing can block on a full pipe).
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], name: String, workspace: Workspace,
                    environment: [String: String]? = nil) async throws -> String {
        let process = Process()
        try process.launch(executable, arguments, on: nil)
        if let environment { process.environment = environment }
        let (status, output) = try await process.runToCompletion(loggingTo: workspace.path("\(name).log"))
        guard status == 0 else {
            throw BenchError(description: "`\(([executable] + arguments).joined(separator: " "))` failed (exit status \(status)):\n\(output)")
        }
        return output
    }
}

/// A peer's program from its Debian package: found on PATH, or installed with apt-get first.
/// `peers` is not part of `all` because of this: it may change the machine.
enum DebianPackage {
    static func executable(_ name: String, package: String, workspace: Workspace) async throws -> String {
        if let found = try? Executable.find(name, hint: "") { return found }
        let aptGet: String
        do {
            aptGet = try Executable.find("apt-get", hint: "install the Debian package \(package) by hand")
        } catch {
            throw BenchError(description: "\(name) is not installed and there is no apt-get to install it: install the Debian package \(package)")
        }
        print("   (\(name) not found: apt-get install -y \(package))")
        var environment = ProcessInfo.processInfo.environment
        environment["DEBIAN_FRONTEND"] = "noninteractive"
        do {
            try await SetupCommand.run(aptGet, ["install", "-y", package], name: "apt-get-\(package)", workspace: workspace,
                                       environment: environment)
        } catch {
            throw BenchError(description: "\(name) is not installed and `apt-get install -y \(package)` failed "
                + "(run `apt-get update` first, or install it by hand): \(error)")
        }
        return try Executable.find(name, hint: "`apt-get install -y \(package)` succeeded but \(name) is still not on PATH")
    }
}
