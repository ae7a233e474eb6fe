import Foundation
import TesseraPolicy

/// The engineer's identity token, from where the settings say: the sign-in `tessera login`
/// kept, a command run on demand (its standard output; its standard error reaches the
/// terminal, so a sign-in prompt shows), a file, or an environment variable.
enum SubjectToken {
    static let commandTimeout: TimeInterval = 120

    static func read(_ settings: ClientSettings) async throws(ClientFailure) -> String {
        guard let setting = settings.subjectToken else {
            // Signed in at a provider the server published: the session names it.
            if let session = LoginSession.read(at: LoginSession.path(cacheDirectory: settings.cacheDirectory)) {
                return try await LoginSession.idToken(for: session.provider, cacheDirectory: settings.cacheDirectory,
                                                      source: "the sign-in provider \(session.issuer) that the server publishes")
            }
            throw ClientFailure(.notSignedIn, "no subject token: run `tessera login`, or set subject_token in "
                + "\(settings.configPath) (login, command, file or env), or TESSERA_SUBJECT_TOKEN_COMMAND")
        }
        let token: String
        switch setting.value {
        case .environment(let name):
            guard let value = ProcessInfo.processInfo.environment[name].nonEmpty else {
                throw ClientFailure(.notSignedIn, "no subject token: the environment variable \(name) is not set (\(setting.source))")
            }
            token = value
        case .file(let path):
            let expanded = (path as NSString).expandingTildeInPath
            guard let text = try? String(contentsOfFile: expanded, encoding: .utf8) else {
                throw ClientFailure(.notSignedIn, "no subject token: cannot read \(expanded) (\(setting.source))")
            }
            token = text
        case .command(let command):
            token = try run(command, source: setting.source)
        case .login(let provider):
            token = try await LoginSession.idToken(for: provider, cacheDirectory: settings.cacheDirectory,
                                                   source: "subject_token.login in \(setting.source)")
        }
        let trimmed = token.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw ClientFailure(.notSignedIn, "no subject token: \(setting.source) gave an empty one") }
        return trimmed
    }

    private static func run(_ command: String, source: String) throws(ClientFailure) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        do {
            try process.run()
        } catch {
            throw ClientFailure(.notSignedIn, "cannot run the subject-token command of \(source): \(error.localizedDescription)")
        }
        let deadline = Date().addingTimeInterval(commandTimeout)
        let reader = output.fileHandleForReading
        let data = reader.readDataToEndOfFile()
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning {
            process.terminate()
            throw ClientFailure(.notSignedIn, "the subject-token command of \(source) did not finish within \(Int(commandTimeout)) s")
        }
        guard process.terminationStatus == 0 else {
            throw ClientFailure(.notSignedIn, "the subject-token command of \(source) failed (exit \(process.terminationStatus)): \(command)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
