import Foundation

/// The client commands' exit statuses (README, "The command line"), so scripts and kubectl
/// wrappers can tell a denial from an outage.
enum ClientExit: Int32 {
    case ok = 0
    case failure = 1
    /// A usage error (EX_USAGE, as ArgumentParser exits for bad options).
    case usage = 64
    /// The role was denied: a condition does not hold.
    case denied = 3
    /// Approval is pending and `--no-wait` was given (or the wait was interrupted).
    case pending = 4
    /// The request was denied, cancelled or expired.
    case requestClosed = 5
    /// The server (or the subject-token command) cannot be reached (EX_UNAVAILABLE).
    case unavailable = 69
    /// No usable subject token: not signed in (EX_NOPERM).
    case notSignedIn = 77
}

/// Says `message` on standard error, prefixed `tessera:`, and exits with `status`.
func exitWith(_ status: ClientExit, _ message: String) -> Never {
    FileHandle.standardError.write(Data("tessera: \(message)\n".utf8))
    exit(status.rawValue)
}

/// A client command's failure: what to say and how to exit.
struct ClientFailure: Error {
    let status: ClientExit
    let message: String

    init(_ status: ClientExit, _ message: String) {
        self.status = status
        self.message = message
    }
}
